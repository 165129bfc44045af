"""Running the NP6 source from an orchestrator: Dagster (`dagster_np6`), Airflow (`airflow_np6`)."""
