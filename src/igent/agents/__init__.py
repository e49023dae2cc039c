"""Agents: prompts, the message protocol, model calls and critic verdicts."""

from igent.agents.agent import Agent, AgentCall, AgentReply, AgentRole
from igent.agents.prompts import PROMPT_NAMES, PromptName, load_prompt
from igent.agents.protocol import (
    MATCH_SCHEMA,
    PURCHASE_ORDER_SCHEMA,
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
)
from igent.agents.verdict import CriticVerdict, parse_verdict

__all__ = [
    "Agent",
    "AgentCall",
    "AgentReply",
    "AgentRole",
    "CriticVerdict",
    "MATCH_SCHEMA",
    "PROMPT_NAMES",
    "PURCHASE_ORDER_SCHEMA",
    "PromptName",
    "Task",
    "TaskKind",
    "capacity_block",
    "find_task",
    "incentive_block",
    "load_prompt",
    "match_answer",
    "parse_task",
    "parse_verdict",
    "purchase_order_answer",
    "render_task",
    "supplier_block",
]
