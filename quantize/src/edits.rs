//! A batch of graph edits, applied in one pass so node indices stay valid while planning.

use std::collections::HashMap;

use onnx_protobuf::{GraphProto, NodeProto, TensorProto};

/// Edits to one graph. Nodes are only added next to the node they belong to, so a graph in
/// topological order stays in it.
#[derive(Default)]
pub(crate) struct Edits {
    /// Nodes that take the place of node `i`, in order.
    pub replace: HashMap<usize, Vec<NodeProto>>,
    /// Nodes inserted right after node `i` (after its replacement, if any).
    pub after: HashMap<usize, Vec<NodeProto>>,
    /// Nodes inserted before every node (they read graph inputs).
    pub first: Vec<NodeProto>,
    /// Inputs of the graph's own nodes (and replacements) to read from another tensor. The
    /// nodes in `after` and `first` are left as written.
    pub rename: HashMap<String, String>,
    /// New initializers.
    pub initializers: Vec<TensorProto>,
    /// Initializers to drop once no node reads them.
    pub dropped: Vec<String>,
}

impl Edits {
    /// Applies the edits to `graph`.
    pub fn apply(mut self, graph: &mut GraphProto) {
        let renamed = |mut n: NodeProto, rename: &HashMap<String, String>| {
            for input in &mut n.input {
                if let Some(to) = rename.get(input.as_str()) {
                    input.clone_from(to);
                }
            }
            n
        };
        let old = std::mem::take(&mut graph.node);
        let mut nodes = std::mem::take(&mut self.first);
        for (i, n) in old.into_iter().enumerate() {
            match self.replace.remove(&i) {
                Some(new) => nodes.extend(new.into_iter().map(|n| renamed(n, &self.rename))),
                None => nodes.push(renamed(n, &self.rename)),
            }
            nodes.extend(self.after.remove(&i).unwrap_or_default());
        }
        graph.node = nodes;
        let used = |name: &str| graph.node.iter().any(|n| n.input.iter().any(|i| i == name));
        let keep: Vec<TensorProto> = std::mem::take(&mut graph.initializer)
            .into_iter()
            .filter(|t| !self.dropped.contains(&t.name) || used(&t.name))
            .collect();
        graph.initializer = keep;
        graph.initializer.extend(self.initializers);
    }
}
