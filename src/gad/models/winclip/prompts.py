"""WinCLIP's compositional prompt ensemble (paper Sec. 3.1): 7 normal and 4 anomalous state phrases x 22 templates.

InCTRL took these states and templates over unchanged (InCTRL paper, Sec. 4.1), so they are written once, in
``text_prompts``; WinCLIP's set is InCTRL's without the presence/absence pair InCTRL added for semantic (CIFAR)
classes: every class gets the defect vocabulary, as in the WinCLIP paper.
"""

from __future__ import annotations

from dataclasses import replace

from gad.models.components.text_prompts import INCTRL_PROMPTS, PromptSet

WINCLIP_PROMPTS: PromptSet = replace(INCTRL_PROMPTS, name="winclip", semantic_classes=frozenset())
