"""NP6 in Airflow: a daily DAG running `np6 load` (the scheduled run) in the worker's environment.

Copy this file into the DAGs folder of an Airflow installation where `np6-connector` is installed
(`pip install np6-connector` in the workers' environment). The load itself is the `np6` command:
one lock per pipeline, commit groups, one-line errors and exit codes, telemetry off, exactly as
from cron. Give the task the settings the dlt way, e.g. in the workers' environment or an Airflow
connection exported as environment variables:

    SOURCES__NP6__API_KEY, DESTINATION__POSTGRES__CREDENTIALS (or DESTINATION__DUCKDB__CREDENTIALS)
    DLT_DATA_DIR  on a persistent volume: the pipeline state and pending packages live there

A failed run exits 1 or 2 with one line, which Airflow shows in the task log; the next run resumes
where the last committed window ended. Backfill a range with `np6 load --start ... --end ...`.
This module imports Airflow only when it is there: the connector's tests compile it, never run it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow import DAG
    from airflow.operators.bash import BashOperator
except ImportError:  # not an Airflow environment: nothing to define
    DAG = None

if DAG is not None:
    with DAG(
        dag_id="np6_load",
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        catchup=False,  # np6 load catches up by itself, from its cursor
        max_active_runs=1,  # one load of a pipeline at a time (np6 also holds a lock)
        default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
        tags=["np6", "dlt"],
    ) as dag:
        BashOperator(task_id="np6_load", bash_command="np6 load --destination postgres",
                     append_env=True)
