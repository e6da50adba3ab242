package keycare

import "context"

// Roles of the Care team (SPEC §5).
const (
	RoleAdmin   = "admin"
	RoleLead    = "lead"
	RoleManager = "manager"
	RoleProduct = "product"
	RoleViewer  = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []string{RoleAdmin, RoleLead, RoleManager, RoleProduct, RoleViewer}

// Actor kinds recorded in the audit log.
const (
	ActorUser     = "user"
	ActorSystem   = "system"
	ActorTelegram = "telegram"
	ActorJira     = "jira"
)

// Actor is who causes a change: a team member, or one of Keycare's own
// subsystems. RequestID ties the change to the log line of its HTTP request.
type Actor struct {
	Kind      string
	UserID    string
	Role      string
	RequestID string
}

// SeesAll reports whether the actor may see every account (admin, lead, system).
func (a Actor) SeesAll() bool {
	return a.Kind != ActorUser || a.Role == RoleAdmin || a.Role == RoleLead
}

// SystemActor is the actor of Keycare's own background work.
var SystemActor = Actor{Kind: ActorSystem}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or SystemActor when there is none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return SystemActor
}
