"""Agents: prompts, the message protocol, model calls and critic verdicts."""

from igent.agents.agent import (
    DEFAULT_MAX_TOKENS,
    Agent,
    AgentCall,
    AgentCallError,
    AgentReply,
    AgentRole,
)
from igent.agents.answer import check_answer, prompt_objects, schema_errors
from igent.agents.fields import (
    REGISTRATION_FIELDS,
    candidate_rows,
    incentive_rows,
    price_offer,
    registration_fields,
)
from igent.agents.prompts import PROMPT_NAMES, PromptName, load_prompt
from igent.agents.protocol import (
    DATA_NOTE,
    MATCH_SCHEMA,
    PURCHASE_ORDER_SCHEMA,
    VERDICT_SCHEMA,
    Task,
    TaskKind,
    capacity_block,
    find_task,
    incentive_block,
    match_answer,
    parse_task,
    purchase_order_answer,
    render_task,
    supplier_block,
    task_blocks,
)
from igent.agents.verdict import CriticVerdict, parse_verdict

__all__ = [
    "Agent",
    "AgentCall",
    "AgentCallError",
    "AgentReply",
    "AgentRole",
    "CriticVerdict",
    "DATA_NOTE",
    "DEFAULT_MAX_TOKENS",
    "MATCH_SCHEMA",
    "PROMPT_NAMES",
    "PURCHASE_ORDER_SCHEMA",
    "PromptName",
    "REGISTRATION_FIELDS",
    "Task",
    "TaskKind",
    "VERDICT_SCHEMA",
    "candidate_rows",
    "capacity_block",
    "check_answer",
    "find_task",
    "incentive_block",
    "incentive_rows",
    "load_prompt",
    "match_answer",
    "parse_task",
    "parse_verdict",
    "price_offer",
    "prompt_objects",
    "purchase_order_answer",
    "registration_fields",
    "render_task",
    "schema_errors",
    "supplier_block",
    "task_blocks",
]
