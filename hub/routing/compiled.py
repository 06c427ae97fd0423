"""The configuration compiled once for routing: the evaluator and the output templates."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import HubConfig
from hub.directory import TeamDirectory
from hub.routing.evaluator import Evaluator
from hub.routing.outputs import OutputTemplates

__all__ = ["CompiledConfig", "compile_config"]


@dataclass(frozen=True)
class CompiledConfig:
    config: HubConfig
    evaluator: Evaluator
    templates: OutputTemplates

    @property
    def directory(self) -> TeamDirectory:
        return self.evaluator.directory


def compile_config(config: HubConfig) -> CompiledConfig:
    """Compile ``config``: team directory index, policies (cases merged, conditions as
    sets), output templates validated against the models. Raises ConfigError when a
    configuration value would make an invalid output record."""
    evaluator = Evaluator(config)
    return CompiledConfig(config, evaluator, OutputTemplates(config, evaluator.policies))
