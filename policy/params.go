package policy

import (
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// paramMap is the CEL value of the params variable. Values are converted
// to CEL doubles once, at load, so reading a param allocates nothing.
type paramMap struct {
	native map[string]float64
	vals   map[string]ref.Val
	keys   ref.Val // sorted key list, for iteration
}

var _ traits.Mapper = (*paramMap)(nil)

func newParamMap(params map[string]float64) *paramMap {
	m := &paramMap{native: params, vals: make(map[string]ref.Val, len(params))}
	keys := make([]string, 0, len(params))
	for k, v := range params {
		m.vals[k] = types.Double(v)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m.keys = types.NewStringList(types.DefaultTypeAdapter, keys)
	return m
}

// ConvertToNative implements ref.Val.
func (m *paramMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return types.DefaultTypeAdapter.NativeToValue(m.native).ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (m *paramMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val.
func (m *paramMap) Equal(other ref.Val) ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(m.native).Equal(other)
}

// Type implements ref.Val.
func (m *paramMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *paramMap) Value() any { return m.native }

// Contains implements traits.Container.
func (m *paramMap) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	_, found := m.vals[string(k)]
	return types.Bool(found)
}

// Get implements traits.Indexer.
func (m *paramMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found && !types.IsError(v) {
		return types.NewErrFromString("no such key: " + string(key.(types.String)))
	}
	return v
}

// Find implements traits.Mapper.
func (m *paramMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	v, found := m.vals[string(k)]
	return v, found
}

// Iterator implements traits.Iterable.
func (m *paramMap) Iterator() traits.Iterator { return m.keys.(traits.Lister).Iterator() }

// Size implements traits.Sizer.
func (m *paramMap) Size() ref.Val { return types.Int(len(m.vals)) }
