"""Text encoder: a BERT-architecture transformers model giving per-token features E_L (B x L x D_t).

Row 0 ([CLS]) is the global cue, the other valid tokens are local (word) cues (paper). Expressions are cut to
`max_len` tokens (paper: 20) and padding is returned as a mask so every consumer can ignore it.
"""
from __future__ import annotations

import torch
from torch import nn

from . import pretrained as pretrained_weights
from .config import TextConfig


class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.max_len = int(cfg.max_len)
        # One tokenizer for every config: the MiniLM package's copy of the bert-base-uncased vocabulary.
        self._tokenizer = None
        if cfg.kind == "pretrained_minilm":
            if pretrained:
                self.bert = pretrained_weights.load_minilm()
            else:
                # Same architecture without reading the weights: a checkpoint will fill it.
                from transformers import AutoConfig, BertModel

                config = AutoConfig.from_pretrained(str(pretrained_weights.minilm_path()), local_files_only=True)
                self.bert = BertModel(config, add_pooling_layer=False)
        elif cfg.kind == "bert_config":
            from transformers import BertConfig, BertModel

            kwargs = dict(cfg.bert)
            kwargs.setdefault("vocab_size", 30522)  # bert-base-uncased WordPiece (the shared tokenizer)
            self.bert = BertModel(BertConfig(**kwargs), add_pooling_layer=False)
        else:
            raise ValueError(f"unknown text.kind {cfg.kind!r}")
        if self.bert.config.max_position_embeddings < self.max_len:
            raise ValueError(f"text.max_len {self.max_len} exceeds the encoder's "
                             f"{self.bert.config.max_position_embeddings} positions")
        self.hidden_size: int = int(self.bert.config.hidden_size)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = pretrained_weights.load_tokenizer()
        return self._tokenizer

    def tokenize(self, texts: list[str], pad_to_max: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Strings -> (input_ids, attention_mask), both B x L int64; L = longest (or max_len if pad_to_max)."""
        if isinstance(texts, str):
            texts = [texts]
        batch = self.tokenizer(list(texts), padding="max_length" if pad_to_max else "longest", truncation=True,
                               max_length=self.max_len, return_tensors="pt")
        return batch["input_ids"].long(), batch["attention_mask"].long()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (token features B x L x D_t, mask B x L int64 with 1 = valid token)."""
        input_ids = input_ids[:, : self.max_len]
        attention_mask = attention_mask[:, : self.max_len].long()
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=torch.zeros_like(input_ids))
        return out.last_hidden_state, attention_mask
