package nn

import (
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// setGradient makes vjp the gradient of node n, as graph.IdentityWithCustomGradient does for
// the identity it creates: graph.Gradient calls vjp instead of the gradient of n's op. It lets an
// activation carry the rules of an explanation on its own node, where the identity's formulation
// costs three more passes over the activation in the forward (see Builder.relu). gomlx v0.26.0
// keeps the custom gradient in Node's unexported customVJP field, which only that function sets;
// setGradient reports false, and sets nothing, if the field is not there with that type.
func setGradient(n *graph.Node, vjp graph.VJP) bool {
	f := reflect.ValueOf(n).Elem().FieldByName("customVJP")
	if !f.IsValid() || f.Type() != reflect.TypeFor[graph.VJP]() {
		return false
	}
	*(*graph.VJP)(unsafe.Pointer(f.UnsafeAddr())) = vjp
	return n.CustomGradient() != nil
}
