package olap

import "github.com/gcrm/gcrm/crm"

// Observer follows the engine's writes (Engine.Observer): the cube is one. Its methods are
// called with the engine's write lock held, so they must be quick and must not call back
// into the engine.
type Observer interface {
	// BeginLoad is called when a Load starts reading; the returned ObserverLoad receives
	// every point read and is committed when the engine publishes the load (a failed Load
	// drops it uncommitted).
	BeginLoad() ObserverLoad
	// Apply is called for every change the engine applies, after its rev check: a new
	// state of a record, or its removal (Located false).
	Apply(p *crm.Point)
}

// ObserverLoad receives the points of one Load.
type ObserverLoad interface {
	Add(p *crm.Point) // p is reused by the caller after Add returns
	Commit()
}
