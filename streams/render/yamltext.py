"""Deterministic YAML text: insertion order kept, multi-line strings as literal blocks."""

from __future__ import annotations

from typing import Any

import yaml

from streams.render import GENERATED


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as hand-written Prometheus configs do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, header: str = GENERATED) -> str:
    """YAML with a leading `# <header>` comment line (none when header is empty)."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)
    return (f"# {header}\n" if header else "") + text
