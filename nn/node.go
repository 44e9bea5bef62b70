package nn

import "github.com/gomlx/gomlx/pkg/core/graph"

// Node is a graph node (graph.Node), named here so that a network definition needs one import.
type Node = graph.Node
