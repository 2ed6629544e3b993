"""Keys, limits and budgets: who may call which model, how often, and for how much."""
