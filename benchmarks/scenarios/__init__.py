"""Scenario modules. Each exposes IDS (the scenario ids it produces) and
run(ctx, settings, ids) -> list of result records (see common.scenario_record)."""
