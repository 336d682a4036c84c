DROP TABLE mcp_discoveries;
DROP TABLE mcp_messages;
DROP TABLE mcp_context;
DROP TABLE mcp_sessions;
