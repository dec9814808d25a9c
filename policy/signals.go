package policy

import (
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Known risk signal types. Rules see every one of them in the signals map,
// 0.0 when the caller did not send it, so a rule never fails on a missing
// key and "no signal" reads as "no risk indicated".
const (
	SignalUnderageLikelihood = "underage_likelihood" // 0..1, from an estimator or classifier
	SignalUserReports        = "user_reports"        // count of reports that the user is under age
)

// signalNames is indexed like signalMap.vals.
var signalNames = [...]string{SignalUnderageLikelihood, SignalUserReports}

// KnownSignals returns the signal types rules can read, so callers can
// validate input against the same list.
func KnownSignals() []string { return slices.Clone(signalNames[:]) }

// signalMap is the CEL value of the signals variable: a fixed-key
// map(string, double) backed by an array, so evaluation does not build a Go
// map per request.
type signalMap struct {
	vals [len(signalNames)]float64
}

var _ traits.Mapper = (*signalMap)(nil)

func (s *signalMap) set(in map[string]float64) {
	for i, name := range signalNames {
		s.vals[i] = in[name]
	}
}

func (s *signalMap) native() map[string]float64 {
	m := make(map[string]float64, len(signalNames))
	for i, name := range signalNames {
		m[name] = s.vals[i]
	}
	return m
}

func (s *signalMap) index(key ref.Val) (int, bool) {
	k, ok := key.(types.String)
	if !ok {
		return -1, false
	}
	for i, name := range signalNames {
		if string(k) == name {
			return i, true
		}
	}
	return -1, true
}

// ConvertToNative implements ref.Val.
func (s *signalMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return types.DefaultTypeAdapter.NativeToValue(s.native()).ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (s *signalMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return s
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val.
func (s *signalMap) Equal(other ref.Val) ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(s.native()).Equal(other)
}

// Type implements ref.Val.
func (s *signalMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (s *signalMap) Value() any { return s.native() }

// Contains implements traits.Container.
func (s *signalMap) Contains(key ref.Val) ref.Val {
	i, ok := s.index(key)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	return types.Bool(i >= 0)
}

// Get implements traits.Indexer.
func (s *signalMap) Get(key ref.Val) ref.Val {
	v, found := s.Find(key)
	if !found && !types.IsError(v) {
		return types.NewErrFromString("no such key: " + string(key.(types.String)))
	}
	return v
}

// Find implements traits.Mapper.
func (s *signalMap) Find(key ref.Val) (ref.Val, bool) {
	i, ok := s.index(key)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	if i < 0 {
		return nil, false
	}
	return types.Double(s.vals[i]), true
}

// Iterator implements traits.Iterable.
func (s *signalMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, signalNames[:]).(traits.Lister).Iterator()
}

// Size implements traits.Sizer.
func (s *signalMap) Size() ref.Val { return types.Int(len(signalNames)) }
