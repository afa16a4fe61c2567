"""The GraphQL subgraphs; each is a bounded context with its tables, service and schema."""
