"""The filtered stream's shell: one connection for every stream job (``core/stream`` decides)."""

from harvester.runtime.stream.api import StreamApi, StreamApiError
from harvester.runtime.stream.rulebook import RuleBook, RulesRefused
from harvester.runtime.stream.runner import StreamRunner

__all__ = ["RuleBook", "RulesRefused", "StreamApi", "StreamApiError", "StreamRunner"]
