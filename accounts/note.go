package accounts

import (
	"context"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
)

// Note is a knowledge-base entry about an account, or for the whole team
// when AccountID is nil.
type Note struct {
	ID        string        `json:"id"`
	AccountID *string       `json:"account_id"`
	Title     string        `json:"title"`
	Body      string        `json:"body"`
	Tags      database.JSON `json:"tags"`
	Pinned    bool          `json:"pinned"`
	AuthorID  string        `json:"author_id"`
	Revision  int           `json:"revision"`
	Version   int           `json:"-"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	DeletedAt *time.Time    `json:"-"`
}

// NoteRevision is one saved state of a note; revision 1 is how it was created.
type NoteRevision struct {
	ID        string        `json:"id"`
	NoteID    string        `json:"note_id"`
	Revision  int           `json:"revision"`
	Title     string        `json:"title"`
	Body      string        `json:"body"`
	Tags      database.JSON `json:"tags"`
	Pinned    bool          `json:"pinned"`
	AuthorID  string        `json:"author_id"`
	CreatedAt time.Time     `json:"created_at"`
}

// NewNote is the body of POST /accounts/{id}/notes and POST /notes.
type NewNote struct {
	Title  string   `json:"title" validate:"required,max=300"`
	Body   string   `json:"body" validate:"max=100000"`
	Tags   []string `json:"tags" validate:"omitempty,max=50,dive,required,max=50"`
	Pinned bool     `json:"pinned"`
}

// NoteUpdate is the body of PATCH /notes/{nid}.
type NoteUpdate struct {
	Title  keycare.Optional[string]   `json:"title"`
	Body   keycare.Optional[string]   `json:"body"`
	Tags   keycare.Optional[[]string] `json:"tags"`
	Pinned keycare.Optional[bool]     `json:"pinned"`
}

// NoteFilter narrows GET /notes and GET /accounts/{id}/notes.
type NoteFilter struct {
	AccountID string // "" for every visible note
	TeamOnly  bool   // only team-wide notes
	Query     string // full-text search
	Tag       string
	Pinned    *bool
}

// CreateNote adds a note to an account, or a team-wide note when accountID is "".
func (s *Store) CreateNote(ctx context.Context, accountID string, in NewNote) (*Note, error) {
	in.Title = strings.TrimSpace(in.Title)
	if in.Tags == nil {
		in.Tags = []string{}
	}
	if err := keycare.Validate(in); err != nil {
		return nil, err
	}
	actor := keycare.ActorFrom(ctx)
	now := time.Now().UTC()
	n := &Note{
		ID: keycare.NewID(), Title: in.Title, Body: in.Body, Tags: database.NewJSON(in.Tags), Pinned: in.Pinned,
		AuthorID: actor.UserID, Revision: 1, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if accountID != "" {
		n.AccountID = &accountID
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if accountID != "" {
			if err := canSee(ctx, tx, accountID); err != nil {
				return err
			}
		}
		if err := tx.Create(n).Error; err != nil {
			return err
		}
		if err := saveRevision(ctx, tx, n); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "note.create", "note", n.ID, nil, n)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Note returns one note the caller may see.
func (s *Store) Note(ctx context.Context, id string) (*Note, error) {
	return getNote(ctx, s.db, id)
}

func getNote(ctx context.Context, tx *gorm.DB, id string) (*Note, error) {
	if !keycare.ValidID(id) {
		return nil, errNoteNotFound
	}
	var n Note
	q := visibleNotes(tx.WithContext(ctx).Table("notes").Where("notes.id = ? AND notes.deleted_at IS NULL", id), keycare.ActorFrom(ctx))
	if err := q.Take(&n).Error; err != nil {
		return nil, notFound(err, "note not found")
	}
	return &n, nil
}

var errNoteNotFound = keycare.Errorf(keycare.ENOTFOUND, "note not found")

// visibleNotes narrows q (on table notes) to the notes the actor may see:
// team-wide notes and notes of visible accounts; product and viewer see none.
func visibleNotes(q *gorm.DB, a keycare.Actor) *gorm.DB {
	switch {
	case a.SeesAll():
		return q
	case a.Role == keycare.RoleManager:
		return q.Where("(notes.account_id IS NULL OR notes.account_id IN (SELECT id FROM accounts WHERE owner_id = ? OR backup_id = ?) OR notes.account_id IN (SELECT account_id FROM requests WHERE owner_id = ? AND status <> 'resolved'))", a.UserID, a.UserID, a.UserID)
	default:
		return q.Where("1 = 0")
	}
}

// Notes lists notes newest first, optionally searching their text.
func (s *Store) Notes(ctx context.Context, f NoteFilter, p page.Request) (page.List[Note], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[Note]{}, err
	}
	if len(f.Query) > 500 {
		return page.List[Note]{}, keycare.Invalid("q", "must be at most 500 characters")
	}
	if f.AccountID != "" {
		if err := s.CanSee(ctx, f.AccountID); err != nil {
			return page.List[Note]{}, err
		}
	}
	q := visibleNotes(s.db.WithContext(ctx).Table("notes").Where("notes.deleted_at IS NULL"), keycare.ActorFrom(ctx))
	switch {
	case f.AccountID != "":
		q = q.Where("notes.account_id = ?", f.AccountID)
	case f.TeamOnly:
		q = q.Where("notes.account_id IS NULL")
	}
	if f.Pinned != nil {
		q = q.Where("notes.pinned = ?", *f.Pinned)
	}
	if f.Tag != "" {
		if s.dialect == database.Postgres {
			q = q.Where("notes.tags @> ?::jsonb", string(database.NewJSON([]string{f.Tag})))
		} else {
			q = q.Where("EXISTS (SELECT 1 FROM json_each(notes.tags) WHERE json_each.value = ?)", f.Tag)
		}
	}
	if terms := searchTerms(f.Query); len(terms) > 0 {
		q = s.matchNotes(q, terms)
	} else if strings.TrimSpace(f.Query) != "" {
		return page.List[Note]{Items: []Note{}}, nil // only punctuation: nothing can match
	}
	if keys != nil {
		q = q.Where("notes.id < ?", keys[0])
	}
	var list []Note
	if err := q.Order("notes.id DESC").Limit(p.Size() + 1).Find(&list).Error; err != nil {
		return page.List[Note]{}, err
	}
	return page.Trim(list, p.Size(), func(n Note) []string { return []string{n.ID} }), nil
}

// matchNotes adds full-text search: every term must match the start of a
// word in the title or body, so "клиент" finds "клиента" without a stemmer.
func (s *Store) matchNotes(q *gorm.DB, terms []string) *gorm.DB {
	if s.dialect == database.Postgres {
		parts := make([]string, len(terms))
		for i, t := range terms {
			parts[i] = t + ":*"
		}
		return q.Where("notes.search @@ to_tsquery('simple', ?)", strings.Join(parts, " & "))
	}
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + t + `"*`
	}
	return q.Where("notes.rowid IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?)", strings.Join(parts, " "))
}

// searchTerms splits a query into lower-case words of letters and digits;
// everything else is a separator, so no query syntax reaches the database.
func searchTerms(q string) []string {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > 10 {
		words = words[:10]
	}
	return words
}

// UpdateNote edits a note and keeps the new state as a revision. A team-wide
// note may be edited by its author, a lead or an admin.
func (s *Store) UpdateNote(ctx context.Context, id string, in NoteUpdate, ifVersion int) (*Note, error) {
	var out *Note
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := getNote(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := mayEditNote(ctx, n); err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != n.Version {
			return precondition("note")
		}
		before := *n
		var v keycare.Validation
		if in.Title.Set {
			t := strings.TrimSpace(in.Title.Value)
			v.Check(!in.Title.Null && t != "" && len(t) <= 300, "title", "is required and at most 300 characters")
			n.Title = t
		}
		if in.Body.Set {
			v.Check(len(in.Body.Value) <= 100000, "body", "must be at most 100000 characters")
			n.Body = in.Body.Value
		}
		if in.Tags.Set {
			t := in.Tags.Value
			if t == nil {
				t = []string{}
			}
			if err := v.Merge("", keycare.ValidateVar(t, "tags", "max=50,dive,required,max=50")); err != nil {
				return err
			}
			n.Tags = database.NewJSON(t)
		}
		if in.Pinned.Set {
			v.Check(!in.Pinned.Null, "pinned", "must be true or false")
			n.Pinned = in.Pinned.Value
		}
		if err := v.Err(); err != nil {
			return err
		}
		if keycare.Unchanged(before, *n) {
			out = n
			return nil
		}
		n.Version++
		n.Revision++
		n.AuthorID = keycare.ActorFrom(ctx).UserID
		n.UpdatedAt = time.Now().UTC()
		res := tx.Table("notes").Where("id = ? AND version = ?", id, before.Version).
			Select("title", "body", "tags", "pinned", "author_id", "revision", "version", "updated_at").Updates(n)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return precondition("note")
		}
		if err := saveRevision(ctx, tx, n); err != nil {
			return err
		}
		out = n
		return audit.Record(ctx, tx, "note.update", "note", id, before, n)
	})
	return out, err
}

// DeleteNote hides a note; its revisions and audit trail stay.
func (s *Store) DeleteNote(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := getNote(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := mayEditNote(ctx, n); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.Table("notes").Where("id = ?", id).Updates(map[string]any{"deleted_at": now, "version": n.Version + 1}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "note.delete", "note", id, n, nil)
	})
}

// NoteRevisions lists a note's revisions, newest first.
func (s *Store) NoteRevisions(ctx context.Context, id string, p page.Request) (page.List[NoteRevision], error) {
	keys, err := p.Keys(1)
	if err != nil {
		return page.List[NoteRevision]{}, err
	}
	if _, err := getNote(ctx, s.db, id); err != nil {
		return page.List[NoteRevision]{}, err
	}
	q := s.db.WithContext(ctx).Where("note_id = ?", id)
	if keys != nil {
		q = q.Where("id < ?", keys[0])
	}
	var revs []NoteRevision
	if err := q.Order("id DESC").Limit(p.Size() + 1).Find(&revs).Error; err != nil {
		return page.List[NoteRevision]{}, err
	}
	return page.Trim(revs, p.Size(), func(r NoteRevision) []string { return []string{r.ID} }), nil
}

func mayEditNote(ctx context.Context, n *Note) error {
	a := keycare.ActorFrom(ctx)
	if n.AccountID == nil && !a.SeesAll() && n.AuthorID != a.UserID {
		return keycare.Errorf(keycare.EFORBIDDEN, "only its author, a lead or an admin may change a team-wide note")
	}
	return nil
}

func saveRevision(ctx context.Context, tx *gorm.DB, n *Note) error {
	return tx.WithContext(ctx).Create(&NoteRevision{
		ID: keycare.NewID(), NoteID: n.ID, Revision: n.Revision, Title: n.Title, Body: n.Body,
		Tags: n.Tags, Pinned: n.Pinned, AuthorID: n.AuthorID, CreatedAt: n.UpdatedAt,
	}).Error
}
