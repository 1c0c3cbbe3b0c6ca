"""The rules, free of HTTP and SQL text: records, what each operation does, the events it raises."""
