"""How a run executes its steps: the executor AI_PLATFORM_EXECUTOR names."""

import dagster as dg

from ai_platform import settings


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
            },
            name="celery",
        )
    return dg.in_process_executor if name == "in_process" else dg.multiprocess_executor
