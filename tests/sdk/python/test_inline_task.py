"""The INLINE system task, built with the SDK's InlineTask (JavaScript, graaljs by
default): the script computes over its bindings, and a script that throws fails its
task with a reason. A SwitchTask with use_javascript picks its case the same way,
and a JsonJQTask transforms its input with jq."""

from __future__ import annotations

from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.inline import InlineTask
from conductor.client.workflow.task.json_jq_task import JsonJQTask
from conductor.client.workflow.task.switch_task import SwitchTask

from sdk_helpers import task_by_ref, unique


def test_inline_scripts_compute_over_their_bindings(executor):
    total = InlineTask(
        "total_ref",
        "(function () { return {sum: $.items.reduce((a, b) => a + b, 0), n: $.items.length}; })();",
        bindings={"items": "${workflow.input.items}"},
    )
    wf = ConductorWorkflow(executor=executor, name=unique("py_inline_wf"), version=1)
    wf.add(total).output_parameters({"sum": "${total_ref.output.result.sum}", "n": "${total_ref.output.result.n}"})
    wf.register(True)

    run = executor.execute(name=wf.name, version=1, workflow_input={"items": [4, 5, 6]}, wait_for_seconds=20)
    assert run.status == "COMPLETED", run
    assert run.output == {"sum": 15, "n": 3}
    task = task_by_ref(executor.get_workflow(run.workflow_id, include_tasks=True), "total_ref")
    assert task.task_type == "INLINE"
    assert task.input_data["evaluatorType"] == "graaljs"
    assert task.output_data == {"result": {"sum": 15, "n": 3}}


def test_a_script_that_throws_fails_its_task_for_good(executor):
    broken = InlineTask("broken_ref", "$.missing.field")
    wf = ConductorWorkflow(executor=executor, name=unique("py_inline_fail_wf"), version=1)
    wf.add(broken)
    wf.register(True)

    run = executor.execute(name=wf.name, version=1, workflow_input={}, wait_for_seconds=20)
    assert run.status == "FAILED", run
    task = task_by_ref(executor.get_workflow(run.workflow_id, include_tasks=True), "broken_ref")
    assert task.status == "FAILED_WITH_TERMINAL_ERROR"
    assert task.reason_for_incompletion.startswith("Error evaluating the script `")
    assert task.output_data["error"] == task.reason_for_incompletion


def test_a_javascript_switch_picks_its_case(executor):
    route = SwitchTask("route_ref", "$.amount > 100 ? 'big' : 'small'", use_javascript=True)
    route.input_parameters.update({"amount": "${workflow.input.amount}"})
    route.switch_case("big", [InlineTask("big_ref", "'reviewed'")])
    route.default_case([InlineTask("small_ref", "'paid'")])
    wf = ConductorWorkflow(executor=executor, name=unique("py_js_switch_wf"), version=1)
    wf.add(route).output_parameters({"case": "${route_ref.output.selectedCase}"})
    wf.register(True)

    for amount, case, ran in [(500, "big", "big_ref"), (5, "small", "small_ref")]:
        run = executor.execute(name=wf.name, version=1, workflow_input={"amount": amount}, wait_for_seconds=20)
        assert run.status == "COMPLETED", run
        assert run.output == {"case": case}
        done = executor.get_workflow(run.workflow_id, include_tasks=True)
        assert [t.reference_task_name for t in done.tasks] == ["route_ref", ran]


def test_a_jq_task_answers_its_first_output_and_all_of_them(executor):
    names = JsonJQTask("names_ref", ".people[] | select(.age >= 18) | .name")
    names.input_parameters.update({"people": "${workflow.input.people}"})
    wf = ConductorWorkflow(executor=executor, name=unique("py_jq_wf"), version=1)
    wf.add(names).output_parameters({"first": "${names_ref.output.result}", "all": "${names_ref.output.resultList}"})
    wf.register(True)

    people = [{"name": "ada", "age": 36}, {"name": "kid", "age": 9}, {"name": "alan", "age": 41}]
    run = executor.execute(name=wf.name, version=1, workflow_input={"people": people}, wait_for_seconds=20)
    assert run.status == "COMPLETED", run
    assert run.output == {"first": "ada", "all": ["ada", "alan"]}
