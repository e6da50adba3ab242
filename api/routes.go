package api

import "net/http"

// routes registers every route with its authorization rule. Read it top to
// bottom: it is the whole API surface.
func (s *Server) routes() {
	// Outside /api/v1: probes and metrics.
	s.handle(http.MethodGet, "/healthz", s.healthz, public)
	s.handle(http.MethodGet, "/readyz", s.readyz, public)
	s.handle(http.MethodGet, "/metrics", s.metrics, public)

	s.handle(http.MethodGet, "/openapi.json", s.openAPI, public)
	s.handle(http.MethodGet, "/me", s.getMe, everyone)

	// Team (admin).
	s.handle(http.MethodGet, "/users", s.listUsers, adminOnly)
	s.handle(http.MethodPost, "/users", s.createUser, adminOnly)
	s.handle(http.MethodGet, "/users/:id", s.getUser, adminOnly)
	s.handle(http.MethodPatch, "/users/:id", s.updateUser, adminOnly)
	s.handle(http.MethodPost, "/users/:id/tokens", s.issueToken, adminOnly)

	// Accounts and the account card.
	s.handle(http.MethodGet, "/accounts", s.listAccounts, portfolio)
	s.handle(http.MethodPost, "/accounts", s.createAccount, leads)
	s.handle(http.MethodGet, "/accounts/:id", s.getCard, onAccount(portfolio))
	s.handle(http.MethodPatch, "/accounts/:id", s.updateAccount, onAccount(careTeam))
	s.handle(http.MethodDelete, "/accounts/:id", s.archiveAccount, onAccount(leads))

	// Contacts.
	s.handle(http.MethodGet, "/accounts/:id/contacts", s.listContacts, onAccount(careTeam))
	s.handle(http.MethodPost, "/accounts/:id/contacts", s.createContact, onAccount(careTeam))
	s.handle(http.MethodGet, "/accounts/:id/contacts/:cid", s.getContact, onAccount(careTeam))
	s.handle(http.MethodPatch, "/accounts/:id/contacts/:cid", s.updateContact, onAccount(careTeam))
	s.handle(http.MethodDelete, "/accounts/:id/contacts/:cid", s.removeContact, onAccount(careTeam))

	// Revenue ledger.
	s.handle(http.MethodGet, "/accounts/:id/revenue", s.listRevenue, onAccount(portfolio))
	s.handle(http.MethodPut, "/accounts/:id/revenue/:month", s.putRevenue, onAccount(careTeam))
	s.handle(http.MethodPost, "/revenue/import", s.importRevenue, withLimit(leads, "20MiB"))

	// Service inventory.
	s.handle(http.MethodGet, "/accounts/:id/services", s.listServices, onAccount(portfolio))
	s.handle(http.MethodPost, "/accounts/:id/services", s.createService, onAccount(careTeam))
	s.handle(http.MethodGet, "/accounts/:id/services/:sid", s.getService, onAccount(portfolio))
	s.handle(http.MethodPatch, "/accounts/:id/services/:sid", s.updateService, onAccount(careTeam))
	s.handle(http.MethodDelete, "/accounts/:id/services/:sid", s.removeService, onAccount(careTeam))

	// Knowledge base.
	s.handle(http.MethodGet, "/accounts/:id/notes", s.listAccountNotes, onAccount(careTeam))
	s.handle(http.MethodPost, "/accounts/:id/notes", s.createAccountNote, onAccount(careTeam))
	s.handle(http.MethodGet, "/notes", s.listNotes, careTeam)
	s.handle(http.MethodPost, "/notes", s.createTeamNote, careTeam)
	s.handle(http.MethodGet, "/notes/:nid", s.getNote, onNote(careTeam))
	s.handle(http.MethodPatch, "/notes/:nid", s.updateNote, onNote(careTeam))
	s.handle(http.MethodDelete, "/notes/:nid", s.deleteNote, onNote(careTeam))
	s.handle(http.MethodGet, "/notes/:nid/revisions", s.listNoteRevisions, onNote(careTeam))

	// The account's Telegram group and its messages (never for product or viewer).
	s.handle(http.MethodGet, "/accounts/:id/chat", s.getChat, onAccount(portfolio))
	s.handle(http.MethodPost, "/accounts/:id/chat", s.createChat, repeatable(onAccount(careTeam)))
	s.handle(http.MethodPost, "/accounts/:id/chat/adopt", s.adoptChat, repeatable(onAccount(careTeam)))
	s.handle(http.MethodPost, "/accounts/:id/chat/archive", s.archiveChat, onAccount(leads))
	s.handle(http.MethodGet, "/accounts/:id/messages", s.listMessages, onAccount(careTeam))
	s.handle(http.MethodPost, "/accounts/:id/messages", s.sendMessage, repeatable(onAccount(careTeam)))
	s.handle(http.MethodGet, "/accounts/:id/messages/:mid/media", s.getMedia, onAccount(careTeam))
	s.handle(http.MethodGet, "/integrations", s.integrations, everyone)

	// Requests, SLAs and handovers.
	s.handle(http.MethodGet, "/requests", s.listRequests, careTeam)
	s.handle(http.MethodPost, "/requests", s.createRequest, careTeam)
	s.handle(http.MethodGet, "/requests/:id", s.getRequest, onRequest(careTeam))
	s.handle(http.MethodPatch, "/requests/:id", s.updateRequest, onRequest(careTeam))
	s.handle(http.MethodPost, "/requests/:id/split", s.splitRequest, onRequest(careTeam))
	s.handle(http.MethodPost, "/requests/:id/merge", s.mergeRequest, onRequest(careTeam))
	s.handle(http.MethodPost, "/requests/:id/qa", s.reviewRequest, onRequest(leads))
	s.handle(http.MethodGet, "/handovers", s.listHandovers, careTeam)
	s.handle(http.MethodPost, "/handovers", s.createHandover, careTeam)
	s.handle(http.MethodPost, "/handovers/:id/accept", s.acceptHandover, careTeam)
	s.handle(http.MethodGet, "/sla-policies", s.listPolicies, careTeam)
	s.handle(http.MethodPost, "/sla-policies", s.createPolicy, leads)
	s.handle(http.MethodGet, "/sla-policies/:id", s.getPolicy, careTeam)
	s.handle(http.MethodPatch, "/sla-policies/:id", s.updatePolicy, leads)
	s.handle(http.MethodGet, "/metrics/support", s.supportMetrics, metricsReaders)

	// Audit log.
	s.handle(http.MethodGet, "/audit", s.listAudit, leads)
}
