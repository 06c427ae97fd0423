"""Routing without side effects: the configuration compiled once into a pure evaluator
(:mod:`hub.routing.evaluator`), the views it reads (:mod:`hub.routing.views`) and the
output templates the router encodes its records with (:mod:`hub.routing.outputs`,
:mod:`hub.routing.writer`). See docs/router.md."""

from hub.routing.compiled import CompiledConfig, compile_config
from hub.routing.evaluator import Evaluation, Evaluator
from hub.routing.outputs import ALERT_NAMESPACE, IdSource, OutputTemplates, alert_id_for
from hub.routing.views import (
    BatchHistory,
    ConsentView,
    HistoryStore,
    HistoryView,
    NoConsents,
    NoHistory,
)

__all__ = [
    "ALERT_NAMESPACE",
    "BatchHistory",
    "CompiledConfig",
    "ConsentView",
    "Evaluation",
    "Evaluator",
    "HistoryStore",
    "HistoryView",
    "IdSource",
    "NoConsents",
    "NoHistory",
    "OutputTemplates",
    "alert_id_for",
    "compile_config",
]
