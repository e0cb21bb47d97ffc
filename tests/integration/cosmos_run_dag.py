"""Runs a Cosmos DAG once with Airflow's dag.test() and prints each task's final state.

    python cosmos_run_dag.py DAG_FILE

The DAG file's folder must be Airflow's dags folder (AIRFLOW__CORE__DAGS_FOLDER): dag.test()
runs the DAG as the metadata database knows it. The last line of output is
`COSMOS_RESULT {"<task_id>": "<state>", ...}` (for tests/integration/cosmos.rs).
"""
import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("cosmos_dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test()
states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print("COSMOS_RESULT " + json.dumps(states, sort_keys=True))
