//! A workflow definition's tasks drawn as SVG by the server: a column of task boxes
//! joined by lines; a SWITCH or a FORK_JOIN opens branches side by side (a switch's
//! labelled with their cases) that meet again below; a DO_WHILE is a dashed frame
//! around the tasks it repeats; a SUB_WORKFLOW names the workflow it runs. Given
//! the statuses of an execution's tasks, each box is coloured by its status.
//!
//! Every label is escaped here: the template shows the SVG as it is.

use std::collections::HashMap;
use std::fmt::Write;

use podium_core::model::WorkflowTask;

use crate::http::pages::escape;

const NODE_W: i32 = 200;
const NODE_H: i32 = 44;
const V_GAP: i32 = 28;
const H_GAP: i32 = 24;
const LABEL_H: i32 = 18;
const PAD: i32 = 14;
const EMPTY_W: i32 = 60;
/// The longest label drawn in a box, in characters.
const LABEL_CHARS: usize = 26;

/// One drawn thing.
enum Block<'a> {
    Task(&'a WorkflowTask),
    /// A task that opens branches (switch, fork), each with its label.
    Branches(&'a WorkflowTask, Vec<(String, Vec<Block<'a>>)>),
    /// A loop around its tasks.
    Loop(&'a WorkflowTask, Vec<Block<'a>>),
}

fn blocks(tasks: &[WorkflowTask]) -> Vec<Block<'_>> {
    tasks.iter().map(block).collect()
}

fn block(task: &WorkflowTask) -> Block<'_> {
    match task.task_type.as_str() {
        "SWITCH" | "DECISION" => {
            let mut branches: Vec<(String, Vec<Block<'_>>)> = task
                .decision_cases
                .iter()
                .map(|(case, tasks)| (case.clone(), blocks(tasks)))
                .collect();
            branches.push(("default".to_string(), blocks(&task.default_case)));
            Block::Branches(task, branches)
        }
        "FORK_JOIN" => Block::Branches(
            task,
            task.fork_tasks
                .iter()
                .enumerate()
                .map(|(i, tasks)| (format!("branch {}", i + 1), blocks(tasks)))
                .collect(),
        ),
        "DO_WHILE" => Block::Loop(task, blocks(&task.loop_over)),
        _ => Block::Task(task),
    }
}

fn seq_size(seq: &[Block<'_>]) -> (i32, i32) {
    if seq.is_empty() {
        return (EMPTY_W, 0);
    }
    let mut w = 0;
    let mut h = 0;
    for b in seq {
        let (bw, bh) = size(b);
        w = w.max(bw);
        h += bh;
    }
    (w, h + V_GAP * (seq.len() as i32 - 1))
}

fn size(block: &Block<'_>) -> (i32, i32) {
    match block {
        Block::Task(_) => (NODE_W, NODE_H),
        Block::Branches(_, branches) => {
            let sizes: Vec<(i32, i32)> = branches.iter().map(|(_, s)| seq_size(s)).collect();
            let w = sizes.iter().map(|s| s.0).sum::<i32>() + H_GAP * (sizes.len() as i32 - 1);
            let h = sizes.iter().map(|s| s.1).max().unwrap_or(0);
            (w.max(NODE_W), NODE_H + V_GAP + LABEL_H + h + V_GAP)
        }
        Block::Loop(_, body) => {
            let (w, h) = seq_size(body);
            (w.max(NODE_W) + 2 * PAD, NODE_H + V_GAP + h + PAD)
        }
    }
}

/// The most boxes and branches a diagram draws: a definition may hold millions of
/// (empty) fork branches, each of which would cost hundreds of bytes of SVG.
pub const MAX_DRAWN: usize = 500;

/// How many boxes and branches `tasks` would draw, counting no further than past
/// `limit`.
fn drawn(tasks: &[WorkflowTask], limit: usize) -> usize {
    let mut count = 0;
    let mut stack: Vec<&[WorkflowTask]> = vec![tasks];
    while let Some(tasks) = stack.pop() {
        for task in tasks {
            count += 1 + task.decision_cases.len() + task.fork_tasks.len();
            if count > limit {
                return count;
            }
            stack.extend(task.decision_cases.values().map(Vec::as_slice));
            stack.push(&task.default_case);
            stack.extend(task.fork_tasks.iter().map(Vec::as_slice));
            stack.push(&task.loop_over);
        }
    }
    count
}

/// Draws `tasks` as an SVG document; `status` gives a task's status by its
/// reference name (an execution's), or nothing (a definition's). A definition too
/// large to draw (see [`MAX_DRAWN`]) gets a sentence that says so instead.
pub fn draw(tasks: &[WorkflowTask], status: &HashMap<String, String>) -> String {
    if drawn(tasks, MAX_DRAWN) > MAX_DRAWN {
        return format!(
            "<p class=\"note\">This definition has more than {MAX_DRAWN} tasks and branches: it is not drawn. Its JSON is complete.</p>"
        );
    }
    let seq = blocks(tasks);
    let (w, h) = seq_size(&seq);
    let (w, h) = (w + 2 * PAD, h + 2 * PAD);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"diagram\" role=\"img\" \
         aria-labelledby=\"diagram-title\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
         <title id=\"diagram-title\">The workflow's tasks in order</title>"
    );
    let mut pen = Pen { out, status };
    pen.seq(&seq, w / 2, PAD);
    pen.out.push_str("</svg>");
    pen.out
}

struct Pen<'s> {
    out: String,
    status: &'s HashMap<String, String>,
}

impl Pen<'_> {
    fn line(&mut self, points: &[(i32, i32)]) {
        let points: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = write!(
            self.out,
            "<polyline class=\"edge\" points=\"{}\"/>",
            points.join(" ")
        );
    }

    /// Draws a sequence centred on `cx` from `y`; answers its bottom.
    fn seq(&mut self, seq: &[Block<'_>], cx: i32, y: i32) -> i32 {
        let mut y = y;
        for (i, b) in seq.iter().enumerate() {
            if i > 0 {
                self.line(&[(cx, y - V_GAP), (cx, y)]);
            }
            let (_, h) = size(b);
            self.block(b, cx, y);
            y += h + V_GAP;
        }
        if seq.is_empty() { y } else { y - V_GAP }
    }

    fn block(&mut self, block: &Block<'_>, cx: i32, y: i32) {
        match block {
            Block::Task(task) => self.node(task, cx, y),
            Block::Branches(task, branches) => {
                self.node(task, cx, y);
                let (w, h) = size(block);
                let top = y + NODE_H + V_GAP + LABEL_H;
                let merge = y + h - V_GAP / 2;
                let mut x = cx - w / 2;
                let total: i32 = branches.iter().map(|(_, s)| seq_size(s).0).sum::<i32>()
                    + H_GAP * (branches.len() as i32 - 1);
                x += (w - total) / 2;
                for (label, seq) in branches {
                    let (bw, _) = seq_size(seq);
                    let bx = x + bw / 2;
                    let fork = y + NODE_H + V_GAP / 2;
                    self.line(&[(cx, y + NODE_H), (cx, fork), (bx, fork), (bx, top)]);
                    let _ = write!(
                        self.out,
                        "<text class=\"case\" x=\"{bx}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                        top - 5,
                        escape(&short(label))
                    );
                    let bottom = self.seq(seq, bx, top);
                    self.line(&[(bx, bottom), (bx, merge), (cx, merge)]);
                    x += bw + H_GAP;
                }
                // On to the block's bottom, where the next line starts.
                self.line(&[(cx, merge), (cx, y + h)]);
                let _ = write!(
                    self.out,
                    "<circle class=\"merge\" cx=\"{cx}\" cy=\"{merge}\" r=\"4\"/>"
                );
            }
            Block::Loop(task, body) => {
                let (w, h) = size(block);
                let _ = write!(
                    self.out,
                    "<rect class=\"loop\" x=\"{}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\"/>",
                    cx - w / 2
                );
                self.node(task, cx, y);
                if !body.is_empty() {
                    self.line(&[(cx, y + NODE_H), (cx, y + NODE_H + V_GAP)]);
                }
                self.seq(body, cx, y + NODE_H + V_GAP);
            }
        }
    }

    fn node(&mut self, task: &WorkflowTask, cx: i32, y: i32) {
        let status = self.status.get(&task.task_reference_name);
        let class = status
            .map(|s| format!("node status-{}", s.to_ascii_lowercase()))
            .unwrap_or_else(|| "node".to_string());
        let detail = match (&task.sub_workflow_param, task.task_type.as_str()) {
            (Some(sub), "SUB_WORKFLOW") => format!("SUB_WORKFLOW {}", sub.name),
            _ => task.task_type.clone(),
        };
        let title = format!(
            "{} ({}){}",
            task.task_reference_name,
            detail,
            status.map(|s| format!(": {s}")).unwrap_or_default()
        );
        let _ = write!(
            self.out,
            "<g class=\"{class}\"><title>{}</title>\
             <rect x=\"{}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\"/>\
             <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text class=\"kind\" x=\"{cx}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            escape(&title),
            cx - NODE_W / 2,
            y + 18,
            escape(&short(&task.task_reference_name)),
            y + 35,
            escape(&short(&detail)),
        );
    }
}

/// A label cut to what a box holds.
fn short(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(value: serde_json::Value) -> WorkflowTask {
        serde_json::from_value(value).expect("task")
    }

    #[test]
    fn branches_loops_and_statuses_are_drawn_and_labels_escaped() {
        let tasks = vec![
            task(
                serde_json::json!({"name": "a", "taskReferenceName": "<b>first</b>", "type": "SIMPLE"}),
            ),
            task(
                serde_json::json!({"name": "s", "taskReferenceName": "route", "type": "SWITCH",
                "evaluatorType": "value-param", "expression": "x",
                "decisionCases": {"yes": [{"name": "y", "taskReferenceName": "on_yes", "type": "SIMPLE"}]},
                "defaultCase": []}),
            ),
            task(
                serde_json::json!({"name": "l", "taskReferenceName": "again", "type": "DO_WHILE",
                "loopCondition": "false",
                "loopOver": [{"name": "b", "taskReferenceName": "inner", "type": "SIMPLE"}]}),
            ),
        ];
        let status = HashMap::from([("on_yes".to_string(), "COMPLETED".to_string())]);
        let svg = draw(&tasks, &status);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;first&lt;/b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains(">yes</text>") && svg.contains(">default</text>"));
        assert!(svg.contains("class=\"loop\""));
        assert!(svg.contains("node status-completed"));
        assert_eq!(svg.matches("<g class=\"node").count(), 5);
    }

    #[test]
    fn a_definition_too_large_is_not_drawn() {
        let empty: Vec<Vec<serde_json::Value>> = vec![Vec::new(); 100_000];
        let mut branches = empty;
        branches[0]
            .push(serde_json::json!({"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}));
        let fork = task(
            serde_json::json!({"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN",
            "forkTasks": branches}),
        );
        let drawn = draw(&[fork], &HashMap::new());
        assert!(drawn.len() < 200, "{}", drawn.len());
        assert!(drawn.contains("not drawn"));
    }
}
