//! The convolutions of [`super::im2col`] as a burn backend extension: a forward op on
//! burn-flex tensors, and on `Autodiff<Flex>` the same op with our own backward pass (burn's
//! custom-backward pattern: `Backward` + `OpsKind`), so autodiff never falls back to burn's
//! default convolution decomposition.

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, AutodiffBackend, Backend, TensorMetadata};
use burn::tensor::{DType, TensorData};
use burn_flex::{Flex, FlexTensor};

use super::fused::{self, Act, Float};
use super::im2col::{self, ConvGeom};

/// Our convolutions, dispatched to burn-flex (plain and under autodiff). Kernel, stride and
/// padding are square; dilation 1, one group.
#[backend_extension(Autodiff, Flex: cfg(all()))]
pub trait KernelBackend: Backend {
    /// `conv2d(x [N, C, H, W], w [OC, C, K, K])`.
    fn kernel_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// [`Self::kernel_conv2d`] plus a bias `[OC]`.
    fn kernel_conv2d_bias(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// `conv_transpose2d(x [N, IC, H, W], w [IC, OC, K, K])`, no output padding.
    fn kernel_conv_transpose2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// [`Self::kernel_conv_transpose2d`] plus a bias `[OC]`.
    fn kernel_conv_transpose2d_bias(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self>;
    /// `act(x w + b)`: `x` `[N, I]`, `w` `[I, O]`, `b` `[O]`.
    fn kernel_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        act: Act,
    ) -> FloatTensor<Self>;
    /// `act(x)`, elementwise.
    fn kernel_activation(x: FloatTensor<Self>, act: Act) -> FloatTensor<Self>;
    /// Batch norm of `x` `[N, C, ...]` with its batch statistics, then `act`: the output, and
    /// the batch mean and biased variance `[C]` (constants, for the running statistics).
    fn kernel_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Act,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Gradients of one convolution: input, weight (each only when asked for) and bias.
pub struct ConvGrads<T> {
    dx: Option<T>,
    dw: Option<T>,
    db: T,
}

/// The backward passes, on the backend that runs them (not dispatched: autodiff calls them on
/// its inner backend).
pub trait KernelBackward: Backend {
    /// Gradients of [`KernelBackend::kernel_conv2d`] for the output gradient `dy`.
    fn conv2d_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stride: usize,
        pad: usize,
        need: [bool; 2],
    ) -> ConvGrads<FloatTensor<Self>>;
    /// Gradients of [`KernelBackend::kernel_conv_transpose2d`] for the output gradient `dy`.
    fn conv_transpose2d_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stride: usize,
        pad: usize,
        need: [bool; 2],
    ) -> ConvGrads<FloatTensor<Self>>;
    /// Gradients `(dx if need_dx, dw, db)` of [`KernelBackend::kernel_linear`], from its
    /// output `y`.
    #[allow(clippy::type_complexity)]
    fn linear_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        y: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        act: Act,
        need_dx: bool,
    ) -> (
        Option<FloatTensor<Self>>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
    /// Gradient of [`KernelBackend::kernel_activation`] from its output `y`.
    fn activation_backward(
        y: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        act: Act,
    ) -> FloatTensor<Self>;
    /// Gradients `(dx, dgamma, dbeta)` of [`KernelBackend::kernel_batch_norm`].
    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        act: Act,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

// ---- burn-flex: contiguous buffers in, contiguous buffers out ----

fn dims4(t: &FlexTensor, what: &str) -> [usize; 4] {
    let s = t.shape();
    assert_eq!(s.num_dims(), 4, "{what} must have rank 4, got {s:?}");
    [s[0], s[1], s[2], s[3]]
}

/// The tensor's values as a contiguous slice (borrowed when already contiguous).
fn values<E: Float + burn::tensor::Element + bytemuck::Pod>(t: &FlexTensor) -> Cow<'_, [E]> {
    match t.as_slice::<E>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(
            t.to_contiguous()
                .as_slice::<E>()
                .expect("contiguous")
                .to_vec(),
        ),
    }
}

fn tensor<E: Float + burn::tensor::Element>(v: Vec<E>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

/// The geometry of a convolution over `x` with `w` `[OC, C, K, K]`.
fn conv_geom(x: [usize; 4], w: [usize; 4], stride: usize, pad: usize) -> ConvGeom {
    assert_eq!(
        x[1], w[1],
        "conv2d: input has {} channels, weight expects {}",
        x[1], w[1]
    );
    let g = ConvGeom {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        kh: w[2],
        kw: w[3],
        stride,
        pad,
    };
    assert!(
        g.is_valid(),
        "conv2d: kernel {}x{} does not fit {x:?} padded by {pad}",
        w[2],
        w[3]
    );
    g
}

/// The geometry of the convolution whose transpose maps `x` `[N, IC, H, W]` with
/// `w` `[IC, OC, K, K]`: its input is the transposed convolution's output.
fn transpose_geom(x: [usize; 4], w: [usize; 4], stride: usize, pad: usize) -> ConvGeom {
    assert_eq!(
        x[1], w[0],
        "conv_transpose2d: input has {} channels, weight expects {}",
        x[1], w[0]
    );
    let oh = (x[2] - 1) * stride + w[2] - 2 * pad;
    let ow = (x[3] - 1) * stride + w[3] - 2 * pad;
    let g = ConvGeom {
        n: x[0],
        c: w[1],
        h: oh,
        w: ow,
        kh: w[2],
        kw: w[3],
        stride,
        pad,
    };
    debug_assert_eq!((g.oh(), g.ow()), (x[2], x[3]));
    g
}

macro_rules! by_dtype {
    ($t:expr, $f:ident, $($args:tt)*) => {
        match $t.dtype() {
            DType::F32 => $f::<f32>($($args)*),
            DType::F64 => $f::<f64>($($args)*),
            other => panic!("our convolution kernels run on f32 or f64 tensors, not {other:?}"),
        }
    };
}

fn conv_fwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    bias: Option<&FlexTensor>,
    stride: usize,
    pad: usize,
) -> FlexTensor {
    let (xd, wd) = (dims4(x, "conv2d input"), dims4(w, "conv2d weight"));
    let g = conv_geom(xd, wd, stride, pad);
    let b = bias.map(values::<E>);
    let y = im2col::conv_forward(&values::<E>(x), &values::<E>(w), b.as_deref(), &g, wd[0]);
    tensor(y, vec![g.n, wd[0], g.oh(), g.ow()])
}

fn convt_fwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    bias: Option<&FlexTensor>,
    stride: usize,
    pad: usize,
) -> FlexTensor {
    let (xd, wd) = (
        dims4(x, "conv_transpose2d input"),
        dims4(w, "conv_transpose2d weight"),
    );
    let g = transpose_geom(xd, wd, stride, pad);
    let b = bias.map(values::<E>);
    let y =
        im2col::conv_transpose_forward(&values::<E>(x), &values::<E>(w), b.as_deref(), &g, xd[1]);
    tensor(y, vec![g.n, g.c, g.h, g.w])
}

fn conv_bwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    dy: &FlexTensor,
    stride: usize,
    pad: usize,
    need: [bool; 2],
) -> ConvGrads<FlexTensor> {
    let (xd, wd) = (dims4(x, "conv2d input"), dims4(w, "conv2d weight"));
    let g = conv_geom(xd, wd, stride, pad);
    let (dx, dw, db) = im2col::conv_backward(
        &values::<E>(x),
        &values::<E>(w),
        &values::<E>(dy),
        &g,
        wd[0],
        need[0],
        need[1],
    );
    ConvGrads {
        dx: dx.map(|v| tensor(v, xd.to_vec())),
        dw: dw.map(|v| tensor(v, wd.to_vec())),
        db: tensor(db, vec![wd[0]]),
    }
}

fn convt_bwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    dy: &FlexTensor,
    stride: usize,
    pad: usize,
    need: [bool; 2],
) -> ConvGrads<FlexTensor> {
    let (xd, wd) = (
        dims4(x, "conv_transpose2d input"),
        dims4(w, "conv_transpose2d weight"),
    );
    let g = transpose_geom(xd, wd, stride, pad);
    let (dx, dw, db) = im2col::conv_transpose_backward(
        &values::<E>(x),
        &values::<E>(w),
        &values::<E>(dy),
        &g,
        xd[1],
        need[0],
        need[1],
    );
    ConvGrads {
        dx: dx.map(|v| tensor(v, xd.to_vec())),
        dw: dw.map(|v| tensor(v, wd.to_vec())),
        db: tensor(db, vec![wd[1]]),
    }
}

fn shape_of(t: &FlexTensor) -> Vec<usize> {
    t.shape().iter().copied().collect()
}

/// `[N, C, S]` view of a `[N, C, ...]` shape.
fn ncs(shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() >= 2,
        "batch norm needs [N, C, ...], got {shape:?}"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

fn linear_fwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    b: &FlexTensor,
    act: Act,
) -> FlexTensor {
    let (xs, ws) = (shape_of(x), shape_of(w));
    assert!(
        xs.len() == 2 && ws.len() == 2 && xs[1] == ws[0],
        "linear: {xs:?} x {ws:?}"
    );
    let y = fused::linear_forward(
        &values::<E>(x),
        &values::<E>(w),
        &values::<E>(b),
        xs[0],
        act,
    );
    tensor(y, vec![xs[0], ws[1]])
}

fn linear_bwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    w: &FlexTensor,
    y: &FlexTensor,
    dy: &FlexTensor,
    act: Act,
    need_dx: bool,
) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
    let (xs, ws) = (shape_of(x), shape_of(w));
    let (dx, dw, db) = fused::linear_backward(
        &values::<E>(x),
        &values::<E>(w),
        &values::<E>(y),
        &values::<E>(dy),
        xs[0],
        act,
        need_dx,
    );
    (
        dx.map(|v| tensor(v, xs)),
        tensor(dw, ws.clone()),
        tensor(db, vec![ws[1]]),
    )
}

fn act_fwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    act: Act,
) -> FlexTensor {
    let mut v = values::<E>(x).into_owned();
    fused::act_in_place(&mut v, act);
    tensor(v, shape_of(x))
}

fn act_bwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    y: &FlexTensor,
    dy: &FlexTensor,
    act: Act,
) -> FlexTensor {
    tensor(
        fused::act_backward(&values::<E>(y), &values::<E>(dy), act),
        shape_of(y),
    )
}

fn bn_fwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f64,
    act: Act,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = shape_of(x);
    let (n, c, s) = ncs(&shape);
    let (y, mean, var) = fused::batch_norm_forward(
        &values::<E>(x),
        &values::<E>(gamma),
        &values::<E>(beta),
        n,
        s,
        eps,
        act,
    );
    let stat = |v: Vec<f64>| tensor(v.into_iter().map(E::of).collect::<Vec<E>>(), vec![c]);
    (tensor(y, shape), stat(mean), stat(var))
}

fn bn_bwd<E: Float + burn::tensor::Element + bytemuck::Pod>(
    x: &FlexTensor,
    gamma: &FlexTensor,
    y: &FlexTensor,
    dy: &FlexTensor,
    eps: f64,
    act: Act,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = shape_of(x);
    let (n, c, s) = ncs(&shape);
    let (dx, dg, db) = fused::batch_norm_backward(
        &values::<E>(x),
        &values::<E>(gamma),
        &values::<E>(y),
        &values::<E>(dy),
        n,
        s,
        eps,
        act,
    );
    (tensor(dx, shape), tensor(dg, vec![c]), tensor(db, vec![c]))
}

impl KernelBackend for Flex {
    fn kernel_linear(x: FlexTensor, w: FlexTensor, b: FlexTensor, act: Act) -> FlexTensor {
        by_dtype!(x, linear_fwd, &x, &w, &b, act)
    }
    fn kernel_activation(x: FlexTensor, act: Act) -> FlexTensor {
        by_dtype!(x, act_fwd, &x, act)
    }
    fn kernel_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        act: Act,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        by_dtype!(x, bn_fwd, &x, &gamma, &beta, epsilon, act)
    }
    fn kernel_conv2d(x: FlexTensor, w: FlexTensor, stride: usize, pad: usize) -> FlexTensor {
        by_dtype!(x, conv_fwd, &x, &w, None, stride, pad)
    }
    fn kernel_conv2d_bias(
        x: FlexTensor,
        w: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        by_dtype!(x, conv_fwd, &x, &w, Some(&bias), stride, pad)
    }
    fn kernel_conv_transpose2d(
        x: FlexTensor,
        w: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        by_dtype!(x, convt_fwd, &x, &w, None, stride, pad)
    }
    fn kernel_conv_transpose2d_bias(
        x: FlexTensor,
        w: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        by_dtype!(x, convt_fwd, &x, &w, Some(&bias), stride, pad)
    }
}

impl KernelBackward for Flex {
    fn linear_backward(
        x: FlexTensor,
        w: FlexTensor,
        y: FlexTensor,
        dy: FlexTensor,
        act: Act,
        need_dx: bool,
    ) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
        by_dtype!(x, linear_bwd, &x, &w, &y, &dy, act, need_dx)
    }
    fn activation_backward(y: FlexTensor, dy: FlexTensor, act: Act) -> FlexTensor {
        by_dtype!(y, act_bwd, &y, &dy, act)
    }
    fn batch_norm_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        y: FlexTensor,
        dy: FlexTensor,
        epsilon: f64,
        act: Act,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        by_dtype!(x, bn_bwd, &x, &gamma, &y, &dy, epsilon, act)
    }
    fn conv2d_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        stride: usize,
        pad: usize,
        need: [bool; 2],
    ) -> ConvGrads<FlexTensor> {
        by_dtype!(x, conv_bwd, &x, &w, &dy, stride, pad, need)
    }
    fn conv_transpose2d_backward(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        stride: usize,
        pad: usize,
        need: [bool; 2],
    ) -> ConvGrads<FlexTensor> {
        by_dtype!(x, convt_bwd, &x, &w, &dy, stride, pad, need)
    }
}

// ---- autodiff: our forward, our backward ----

/// Which of the two convolutions a backward step undoes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Conv,
    Transpose,
}

/// The backward step of one convolution; `N` is 2 (input, weight) or 3 (and bias).
#[derive(Debug)]
struct ConvBackward<const N: usize>(Kind);

impl<B: KernelBackend + KernelBackward, const N: usize> Backward<B, N> for ConvBackward<N> {
    type State = (NodeId, NodeId, usize, usize);

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state, stride, pad) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let w = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
        let need = [ops.parents[0].is_some(), ops.parents[1].is_some()];
        let g = match self.0 {
            Kind::Conv => B::conv2d_backward(x, w, grad, stride, pad, need),
            Kind::Transpose => B::conv_transpose2d_backward(x, w, grad, stride, pad, need),
        };
        let mut parents = ops.parents.into_iter();
        if let (Some(Some(node)), Some(dx)) = (parents.next(), g.dx) {
            grads.register::<B>(node.id, dx);
        }
        if let (Some(Some(node)), Some(dw)) = (parents.next(), g.dw) {
            grads.register::<B>(node.id, dw);
        }
        if let Some(Some(node)) = parents.next() {
            grads.register::<B>(node.id, g.db);
        }
    }
}

type AdTensor<B, C> = FloatTensor<Autodiff<B, C>>;

/// Records one convolution (`kind`) on the autodiff graph, running `forward` on the inner
/// backend.
fn record<B, C, const N: usize>(
    kind: Kind,
    inputs: [AdTensor<B, C>; N],
    stride: usize,
    pad: usize,
    forward: impl FnOnce([FloatTensor<B>; N]) -> FloatTensor<B>,
) -> AdTensor<B, C>
where
    B: KernelBackend + KernelBackward,
    C: CheckpointStrategy,
{
    let nodes = inputs.each_ref().map(|t| t.node());
    match ConvBackward::<N>(kind)
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&inputs[0]);
            let w_state = prep.checkpoint(&inputs[1]);
            let out = forward(inputs.map(|t| t.into_primitive()));
            prep.finish((x_state, w_state, stride, pad), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(inputs.map(|t| t.into_primitive()))),
    }
}

/// Backward step of [`KernelBackend::kernel_linear`]: parents x, w, b.
#[derive(Debug)]
struct LinearBackward;

impl<B: KernelBackend + KernelBackward> Backward<B, 3> for LinearBackward {
    type State = (NodeId, NodeId, FloatTensor<B>, Act);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, w_state, y, act) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let w = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
        let [nx, nw, nb] = ops.parents;
        let (dx, dw, db) = B::linear_backward(x, w, y, dy, act, nx.is_some());
        if let (Some(node), Some(dx)) = (nx, dx) {
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = nw {
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = nb {
            grads.register::<B>(node.id, db);
        }
    }
}

/// Backward step of [`KernelBackend::kernel_activation`].
#[derive(Debug)]
struct ActivationBackward;

impl<B: KernelBackend + KernelBackward> Backward<B, 1> for ActivationBackward {
    type State = (FloatTensor<B>, Act);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<B>(&ops.node);
        let (y, act) = ops.state;
        let [nx] = ops.parents;
        if let Some(node) = nx {
            grads.register::<B>(node.id, B::activation_backward(y, dy, act));
        }
    }
}

/// Backward step of [`KernelBackend::kernel_batch_norm`]: parents x, gamma, beta.
#[derive(Debug)]
struct BatchNormBackward;

impl<B: KernelBackend + KernelBackward> Backward<B, 3> for BatchNormBackward {
    type State = (NodeId, NodeId, FloatTensor<B>, f64, Act);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, g_state, y, eps, act) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(g_state);
        let (dx, dg, db) = B::batch_norm_backward(x, gamma, y, dy, eps, act);
        let [nx, ng, nb] = ops.parents;
        for (node, g) in [(nx, dx), (ng, dg), (nb, db)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

impl<B: KernelBackend + KernelBackward, C: CheckpointStrategy> KernelBackend for Autodiff<B, C> {
    fn kernel_linear(
        x: AdTensor<B, C>,
        w: AdTensor<B, C>,
        b: AdTensor<B, C>,
        act: Act,
    ) -> AdTensor<B, C> {
        match LinearBackward
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let w_state = prep.checkpoint(&w);
                let y = B::kernel_linear(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    act,
                );
                prep.finish((x_state, w_state, y.clone(), act), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::kernel_linear(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
                act,
            )),
        }
    }

    fn kernel_activation(x: AdTensor<B, C>, act: Act) -> AdTensor<B, C> {
        match ActivationBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::kernel_activation(x.into_primitive(), act);
                prep.finish((y.clone(), act), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::kernel_activation(x.into_primitive(), act)),
        }
    }

    fn kernel_batch_norm(
        x: AdTensor<B, C>,
        gamma: AdTensor<B, C>,
        beta: AdTensor<B, C>,
        epsilon: f64,
        act: Act,
    ) -> (AdTensor<B, C>, AdTensor<B, C>, AdTensor<B, C>) {
        let nodes = [x.node(), gamma.node(), beta.node()];
        match BatchNormBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let g_state = prep.checkpoint(&gamma);
                let (y, mean, var) = B::kernel_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    act,
                );
                let out = prep.finish((x_state, g_state, y.clone(), epsilon, act), y);
                (out, Self::from_inner(mean), Self::from_inner(var))
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, var) = B::kernel_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    act,
                );
                (
                    prep.finish(y),
                    Self::from_inner(mean),
                    Self::from_inner(var),
                )
            }
        }
    }

    fn kernel_conv2d(
        x: AdTensor<B, C>,
        w: AdTensor<B, C>,
        stride: usize,
        pad: usize,
    ) -> AdTensor<B, C> {
        record::<B, C, _>(Kind::Conv, [x, w], stride, pad, |[x, w]| {
            B::kernel_conv2d(x, w, stride, pad)
        })
    }
    fn kernel_conv2d_bias(
        x: AdTensor<B, C>,
        w: AdTensor<B, C>,
        bias: AdTensor<B, C>,
        stride: usize,
        pad: usize,
    ) -> AdTensor<B, C> {
        record::<B, C, _>(Kind::Conv, [x, w, bias], stride, pad, |[x, w, b]| {
            B::kernel_conv2d_bias(x, w, b, stride, pad)
        })
    }
    fn kernel_conv_transpose2d(
        x: AdTensor<B, C>,
        w: AdTensor<B, C>,
        stride: usize,
        pad: usize,
    ) -> AdTensor<B, C> {
        record::<B, C, _>(Kind::Transpose, [x, w], stride, pad, |[x, w]| {
            B::kernel_conv_transpose2d(x, w, stride, pad)
        })
    }
    fn kernel_conv_transpose2d_bias(
        x: AdTensor<B, C>,
        w: AdTensor<B, C>,
        bias: AdTensor<B, C>,
        stride: usize,
        pad: usize,
    ) -> AdTensor<B, C> {
        record::<B, C, _>(Kind::Transpose, [x, w, bias], stride, pad, |[x, w, b]| {
            B::kernel_conv_transpose2d_bias(x, w, b, stride, pad)
        })
    }
}
