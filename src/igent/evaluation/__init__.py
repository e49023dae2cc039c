"""Grade runs against the rules engine, field by field."""

from igent.evaluation.grading import (
    FIELDS,
    EvalReport,
    FieldDiff,
    FieldTotal,
    RegistrationGrade,
    grade_results,
    grade_run,
    read_results,
    reference_for_inputs,
    reference_for_run,
)

__all__ = [
    "FIELDS",
    "EvalReport",
    "FieldDiff",
    "FieldTotal",
    "RegistrationGrade",
    "grade_results",
    "grade_run",
    "read_results",
    "reference_for_inputs",
    "reference_for_run",
]
