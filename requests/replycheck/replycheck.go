// Package replycheck looks at a Care manager's reply before it is posted
// into a client's group and warns about the habits the seeds call out
// (SPEC §8): asking for data Keycare already has (003 §1-2), sending the
// client to another channel (000, 002 §2), telling them to look it up on
// the website (000), and saying it is someone else's job (003 §5).
//
// It reads Russian and English. The checks are phrase rules, not a
// language model: they match word stems on normalized text (lower case,
// ё as е, punctuation dropped) and prefer a missed warning to a false one,
// because a warning that cries wolf teaches managers to ignore it.
// Check is pure and safe for concurrent use.
package replycheck

import "strings"

// Facts is what Keycare has on file for the account the reply goes to.
type Facts struct {
	Phones     []string
	Emails     []string
	Companies  []string // account name and other names the client goes by
	AccountIDs []string // Keycare id, slug, CRM/billing external ids
	Tickets    []string // open request ids, Jira keys
}

// Warning codes.
const (
	CodeAsksKnownData = "asks_known_data"
	CodeOtherChannel  = "other_channel"
	CodeLookItUp      = "look_it_up"
	CodeDeflects      = "deflects"
)

// Warning is one thing a reviewer of the reply would point out.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"` // English; names what was asked, never the client's data
}

// The messages of the codes other than asks_known_data, which has one per
// kind of data (see knownData).
const (
	messageOtherChannel = "sends the client to another channel; answer here in the group, where they wrote"
	messageLookItUp     = "tells the client to look it up on the website or in the docs; give them the answer here"
	messageDeflects     = "says it is someone else's job; take the question to the right team yourself and come back with the answer"
)

// Check returns the reply's warnings, at most one per code except
// asks_known_data which may appear once per kind of data; nil when the
// reply is fine. Warnings come in a fixed order: asks_known_data by kind
// (phone, email, company, account id, ticket), then other_channel,
// look_it_up, deflects.
func Check(text string, f Facts) []Warning {
	r := normalize(text)
	if len(r.words) == 0 {
		return nil
	}
	found := scan(&r)
	var warnings []Warning
	for i, asked := range askedFor(&r, found, f) {
		if asked {
			warnings = append(warnings, Warning{Code: CodeAsksKnownData, Message: knownData[i].message})
		}
	}
	if found.has(otherChannel) {
		warnings = append(warnings, Warning{Code: CodeOtherChannel, Message: messageOtherChannel})
	}
	if found.has(lookItUp) {
		warnings = append(warnings, Warning{Code: CodeLookItUp, Message: messageLookItUp})
	}
	if deflects(found) {
		warnings = append(warnings, Warning{Code: CodeDeflects, Message: messageDeflects})
	}
	return warnings
}

// onFile reports whether any of values is more than blank: a contact row
// with an empty phone is not a phone on file.
func onFile(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}
