"""Custom resource schemas: structural pruning, defaulting and validation (incl. CEL)."""

from liqo_core.sandbox.apiserver.schema.cel import RuleCompileError
from liqo_core.sandbox.apiserver.schema.errors import FieldError, SchemaError
from liqo_core.sandbox.apiserver.schema.validator import CRDValidator

__all__ = ["CRDValidator", "FieldError", "RuleCompileError", "SchemaError"]
