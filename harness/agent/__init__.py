"""The ReAct protocol the agent speaks: messages, reply parsing, few-shot examples."""
