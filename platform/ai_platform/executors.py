"""How a run executes its steps: the executor AI_PLATFORM_EXECUTOR names."""

import dagster as dg

from ai_platform import settings

# Celery's settings for a step's task (deploy/celery/worker.yaml holds the same for the workers). A task is acknowledged
# once its step has run, not when a worker takes it, so a worker that dies mid-step (kill -9, out of memory, a lost
# machine) leaves it to the broker, which gives it to another worker. A Redis broker does so once the task has gone
# unacknowledged for the visibility timeout: it must be longer than any step (a year's dbt build or a spec's year of
# training takes minutes), or a running step would be handed out twice.
CELERY_CONFIG = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "broker_transport_options": {"visibility_timeout": 7200},
}


def executor_def() -> dg.ExecutorDefinition:
    """The executor named by AI_PLATFORM_EXECUTOR (read when the code location loads).

    One machine: `in_process` (default; ~60 ms a step instead of ~1-2 s to spawn a process) or `multiprocess`.
    Past one machine: `k8s` (each step in its own Kubernetes Job; image, namespace and env come from the
    instance's K8sRunLauncher, deploy/k8s/dagster.yaml) or `celery` (steps as Celery tasks; broker and result
    backend from AI_PLATFORM_CELERY_BROKER_URL / AI_PLATFORM_CELERY_BACKEND_URL, resolved when a run starts,
    deploy/celery/). Their libraries are imported only when selected: the default import path stays as fast.
    """
    name = settings.executor()
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if name == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {
                "broker": {"env": "AI_PLATFORM_CELERY_BROKER_URL"},
                "backend": {"env": "AI_PLATFORM_CELERY_BACKEND_URL"},
                "config_source": CELERY_CONFIG,
            },
            name="celery",
        )
    return dg.in_process_executor if name == "in_process" else dg.multiprocess_executor
