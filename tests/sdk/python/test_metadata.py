"""MetadataClient: task definitions, workflow definitions (versions), validation, tags."""

from __future__ import annotations

from conductor.client.http.models import TaskDef, WorkflowDef, WorkflowTask
from conductor.client.orkes.models.metadata_tag import MetadataTag
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.set_variable_task import SetVariableTask
from conductor.client.workflow.task.simple_task import SimpleTask
from conductor.client.workflow.task.switch_task import SwitchTask
from conductor.client.workflow.task.timeout_policy import TimeoutPolicy
from conductor.client.workflow.task.wait_task import WaitTask

from sdk_helpers import contains_diff, expect_api_error, unique, wire


def simple(name: str, ref: str, **inputs) -> WorkflowTask:
    return WorkflowTask(name=name, task_reference_name=ref, type="SIMPLE", input_parameters=inputs)


def tag_set(tags) -> set[tuple]:
    return {(t.key, t.type, t.value) for t in tags or []}


class TestTaskDefinitions:
    def test_bulk_register_get_update_list_delete(self, metadata):
        a, b = unique("py_meta_task_a"), unique("py_meta_task_b")
        def_a = TaskDef(
            name=a,
            description="first",
            retry_count=2,
            timeout_seconds=120,
            response_timeout_seconds=30,
            retry_logic="LINEAR_BACKOFF",
            retry_delay_seconds=5,
            timeout_policy="RETRY",
            input_keys=["x", "y"],
            output_keys=["z"],
            input_template={"x": 1},
            concurrent_exec_limit=4,
            owner_email="sdk@example.com",
        )
        def_b = TaskDef(name=b, retry_count=0)
        # OrkesMetadataClient registers one def per call; the generated API takes the list.
        metadata.metadataResourceApi.register_task_def(body=[def_a, def_b])

        got_a = metadata.get_task_def(a)
        assert contains_diff(wire(got_a), wire(def_a)) == []
        assert metadata.get_task_def(b).retry_count == 0

        def_a.description = "second"
        def_a.retry_count = 5
        metadata.update_task_def(def_a)
        updated = metadata.get_task_def(a)
        assert (updated.description, updated.retry_count, updated.timeout_seconds) == ("second", 5, 120)

        names = {d.name for d in metadata.get_all_task_defs()}
        assert {a, b} <= names

        metadata.unregister_task_def(a)
        err = expect_api_error(lambda: metadata.get_task_def(a), 404)
        assert a in err.message, err.body
        # Deleting it again is an error (Conductor: 404, or 500 on its SQL stores).
        expect_api_error(lambda: metadata.unregister_task_def(a), (404, 500))
        remaining = {d.name for d in metadata.get_all_task_defs()}
        assert b in remaining and a not in remaining

    def test_bare_definition_gets_conductor_defaults(self, metadata):
        name = unique("py_meta_bare")
        # On the wire: {"name": ..., "enforceSchema": false}.
        metadata.register_task_def(TaskDef(name=name))
        got = metadata.get_task_def(name)
        assert got.name == name
        assert got.retry_count == 3
        assert got.timeout_policy == "TIME_OUT_WF"
        assert got.retry_logic == "FIXED"
        assert got.retry_delay_seconds == 60
        assert got.response_timeout_seconds == 3600
        assert got.timeout_seconds == 0

    def test_registering_again_replaces_the_definition(self, metadata):
        # POST /metadata/taskdefs is an upsert in Conductor, not a conflict.
        name = unique("py_meta_upsert")
        metadata.register_task_def(TaskDef(name=name, description="one", retry_count=1))
        metadata.register_task_def(TaskDef(name=name, description="two", retry_count=2))
        got = metadata.get_task_def(name)
        assert (got.description, got.retry_count) == ("two", 2)

    def test_unknown_task_definition_is_404(self, metadata):
        name = unique("py_meta_missing")
        err = expect_api_error(lambda: metadata.get_task_def(name), 404)
        assert name in err.message
        # Updating a definition that does not exist is refused (Conductor: 404).
        err = expect_api_error(lambda: metadata.update_task_def(TaskDef(name=name)), 404)
        assert name in err.message


class TestWorkflowDefinitions:
    def test_versions_get_update_delete(self, metadata):
        name = unique("py_meta_wf")
        task = unique("py_meta_simple")
        v1 = WorkflowDef(
            name=name,
            version=1,
            description="v1",
            tasks=[simple(task, "first_ref", x="${workflow.input.x}")],
            input_parameters=["x"],
            output_parameters={"y": "${first_ref.output.y}"},
            owner_email="sdk@example.com",
            timeout_seconds=0,
        )
        v2 = WorkflowDef(
            name=name,
            version=2,
            description="v2",
            tasks=[simple(task, "first_ref", x="${workflow.input.x}"), simple(task, "second_ref")],
            output_parameters={"y": "${second_ref.output.y}"},
            timeout_seconds=0,
        )
        metadata.register_workflow_def(v1)  # POST /metadata/workflow?overwrite=True
        metadata.register_workflow_def(v2)

        latest = metadata.get_workflow_def(name)
        assert latest.version == 2, "no version means the latest"
        assert latest.description == "v2"
        assert [t.task_reference_name for t in latest.tasks] == ["first_ref", "second_ref"]
        first = metadata.get_workflow_def(name, version=1)
        assert contains_diff(wire(first), wire(v1)) == []

        versions = sorted(d.version for d in metadata.get_all_workflow_defs() if d.name == name)
        assert versions == [1, 2]

        # PUT /metadata/workflow with a one-element list.
        v1.description = "v1 updated"
        metadata.update_workflow_def(v1)
        assert metadata.get_workflow_def(name, version=1).description == "v1 updated"
        assert metadata.get_workflow_def(name).description == "v2", "updating v1 leaves v2 the latest"

        metadata.unregister_workflow_def(name, 2)
        assert metadata.get_workflow_def(name).version == 1
        err = expect_api_error(lambda: metadata.get_workflow_def(name, version=2), 404)
        assert name in err.message
        # Deleting it again is an error (Conductor: 404, or 500 on its SQL stores).
        expect_api_error(lambda: metadata.unregister_workflow_def(name, 2), (404, 500))

    def test_overwrite_false_on_an_existing_version_conflicts(self, metadata):
        name = unique("py_meta_conflict")
        wf = WorkflowDef(name=name, version=1, description="original", tasks=[simple(unique("py_t"), "t_ref")])
        metadata.register_workflow_def(wf, overwrite=False)
        wf.description = "duplicate"
        err = expect_api_error(lambda: metadata.register_workflow_def(wf, overwrite=False), 409)
        assert name in err.message
        assert metadata.get_workflow_def(name, version=1).description == "original"
        metadata.register_workflow_def(wf, overwrite=True)
        assert metadata.get_workflow_def(name, version=1).description == "duplicate"

    def test_invalid_definitions_are_refused_with_400(self, metadata):
        name = unique("py_meta_invalid")
        err = expect_api_error(lambda: metadata.register_workflow_def(WorkflowDef(name=name, version=1, tasks=[])), 400)
        assert "task" in err.body.lower(), f"the error should name the empty task list: {err.body}"

        dup = WorkflowDef(
            name=name,
            version=1,
            tasks=[simple(unique("py_t"), "same_ref"), simple(unique("py_t"), "same_ref")],
        )
        err = expect_api_error(lambda: metadata.register_workflow_def(dup), 400)
        assert "same_ref" in err.body, f"the error should name the duplicate reference: {err.body}"
        # The bulk PUT validates too, and saves nothing.
        err = expect_api_error(lambda: metadata.update_workflow_def(dup), 400)
        assert "same_ref" in err.body
        expect_api_error(lambda: metadata.get_workflow_def(name, version=1), 404)

    def test_unknown_workflow_definition_is_404(self, metadata):
        name = unique("py_meta_nowf")
        err = expect_api_error(lambda: metadata.get_workflow_def(name, version=1), 404)
        assert name in err.message
        err = expect_api_error(lambda: metadata.get_workflow_def(name), 404)
        assert name in err.message

    def test_conductor_workflow_builder_definition_round_trips(self, metadata, executor):
        name = unique("py_meta_builder")
        hello = SimpleTask(unique("py_meta_hello"), "hello_ref")
        hello.input_parameters.update({"who": "${workflow.input.who}"})
        route = (
            SwitchTask("route_ref", "${workflow.input.kind}")
            .switch_case("A", [WaitTask("wait_ref", wait_for_seconds=1)])
            .default_case([SetVariableTask("vars_ref")])
        )
        wf = (
            ConductorWorkflow(executor=executor, name=name, version=3, description="built with ConductorWorkflow")
            .owner_email("sdk@example.com")
            .timeout_policy(TimeoutPolicy.TIME_OUT_WORKFLOW)
            .timeout_seconds(300)
            .input_parameters(["who", "kind"])
            .variables({"counter": 0})
            .add(hello)
            .add(route)
            .output_parameters({"greeting": hello.output("greeting")})
        )
        # register() goes through WorkflowExecutor: PUT /metadata/workflow?overwrite=True.
        wf.register(True)
        got = metadata.get_workflow_def(name, version=3)
        assert contains_diff(wire(got), wire(wf.to_workflow_def())) == []


class TestTags:
    def test_workflow_tags_add_get_set_delete(self, metadata):
        name = unique("py_meta_tagged_wf")
        metadata.register_workflow_def(WorkflowDef(name=name, version=1, tasks=[simple(unique("py_t"), "t_ref")]))
        assert tag_set(metadata.get_workflow_tags(name)) == set()

        metadata.add_workflow_tag(MetadataTag("team", "payments"), name)
        metadata.add_workflow_tag(MetadataTag("tier", "gold"), name)
        assert tag_set(metadata.get_workflow_tags(name)) == {
            ("team", "METADATA", "payments"),
            ("tier", "METADATA", "gold"),
        }

        # set replaces the whole set.
        metadata.set_workflow_tags([MetadataTag("owner", "sdk"), MetadataTag("tier", "silver")], name)
        assert tag_set(metadata.get_workflow_tags(name)) == {
            ("owner", "METADATA", "sdk"),
            ("tier", "METADATA", "silver"),
        }

        # delete sends the tag as a JSON body on DELETE.
        metadata.delete_workflow_tag(MetadataTag("tier", "silver"), name)
        assert tag_set(metadata.get_workflow_tags(name)) == {("owner", "METADATA", "sdk")}

    def test_task_tags_add_get_set_delete(self, metadata):
        name = unique("py_meta_tagged_task")
        metadata.register_task_def(TaskDef(name=name))
        assert tag_set(metadata.getTaskTags(name)) == set()

        metadata.addTaskTag(MetadataTag("team", "search"), name)
        assert tag_set(metadata.getTaskTags(name)) == {("team", "METADATA", "search")}

        metadata.setTaskTags([MetadataTag("a", "1"), MetadataTag("b", "2")], name)
        assert tag_set(metadata.getTaskTags(name)) == {("a", "METADATA", "1"), ("b", "METADATA", "2")}

        metadata.deleteTaskTag(MetadataTag("a", "1"), name)
        assert tag_set(metadata.getTaskTags(name)) == {("b", "METADATA", "2")}
