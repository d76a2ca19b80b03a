// Package multidevice runs data-parallel and sharded-base training steps
// on several devices (docs/multi-gpu.md): one compiled program computes a
// loss and the gradients of the trainable parameters over a global batch
// split on the 1-D mesh axis "data", with the gradients reduced across the
// devices inside the program, and the results handed back as host tensors.
//
// Two GoMLX v0.26 strategies are implemented, both on graph.Exec (flux2
// uses AutoSharding; SPMD is kept, tested to the same numbers, as the
// explicit-collective alternative):
//   - AutoSharding: the graph is written for the whole batch; the inputs
//     carry sharding specs and XLA's Shardy partitioner inserts the
//     collectives (all-reduce of the gradients, all-gather of a sharded
//     frozen weight).
//   - SPMD: every device runs the graph on its shard; the loss and the
//     gradients are averaged with an explicit AllReduce, and a sharded
//     frozen weight is gathered by an AllReduce of zero-padded shards (v0.26
//     has no AllGather and no replica-id op, so each device is given its
//     index as an input).
//
// Devices: the XLA CPU plugin (v0.81) creates 4 devices by default and
// ignores XLA_FLAGS=--xla_force_host_platform_device_count; the count is
// set per client by the PJRT create option "cpu_device_count" (see
// backend.VirtualCPU). The pure-Go backend has one device.
package multidevice
