package telegram

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/session"

	"github.com/keycare/keycare/internal/database"
)

// Keyring holds the keys that encrypt Telegram sessions at rest: the
// current key encrypts, any key decrypts what it encrypted. A key's id is
// derived from the key, so rotating means passing the old key as previous
// until every session has been stored again (Rotate).
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

// NewKeyring builds a keyring from 32-byte keys (AES-256-GCM).
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != 32 {
			return nil, fmt.Errorf("telegram session key %d: must be 32 bytes, got %d", i, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.keys[id] = aead
	}
	return k, nil
}

// KeyID names a key without revealing it: the first 8 bytes of a
// domain-separated SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("keycare/telegram-session-key/"), key...))
	return hex.EncodeToString(sum[:8])
}

// aad binds a ciphertext to its row and key, so rows cannot be swapped.
func aad(name, keyID string) []byte { return []byte("keycare/telegram_sessions/" + name + "/" + keyID) }

func (k *Keyring) seal(name string, plain []byte) (keyID string, data []byte, err error) {
	aead := k.keys[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	return k.current, aead.Seal(nonce, nonce, plain, aad(name, k.current)), nil
}

// ErrSessionKey means a stored session cannot be decrypted with the
// configured keys: the key changed without keeping the old one, or the row
// was tampered with. Logging in again replaces the session.
var ErrSessionKey = errors.New("telegram session cannot be decrypted with the configured key")

func (k *Keyring) open(name, keyID string, data []byte) ([]byte, error) {
	aead, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: it was encrypted with key %s, which is not configured (pass the old key as a previous key, or log in again)", ErrSessionKey, keyID)
	}
	if len(data) < aead.NonceSize() {
		return nil, fmt.Errorf("%w: stored data too short", ErrSessionKey)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], aad(name, keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: key %s does not authenticate the stored data (wrong key or tampered row)", ErrSessionKey, keyID)
	}
	return plain, nil
}

// SessionStore keeps one named gotd session in telegram_sessions,
// encrypted. It implements gotd's session.Storage.
type SessionStore struct {
	db   *database.DB
	name string
	keys *Keyring
}

var _ session.Storage = (*SessionStore)(nil)

// NewSessionStore returns the store for the session called name (one per
// Telegram account Keycare logs in as; "default" for the first).
func NewSessionStore(db *database.DB, name string, keys *Keyring) *SessionStore {
	return &SessionStore{db: db, name: name, keys: keys}
}

// Name is the session's name, also the key of its update state.
func (s *SessionStore) Name() string { return s.name }

// detached lets a session read or write finish when ctx was just
// cancelled: gotd saves the session with its client context right after
// connecting, and a short login can end before that save runs.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// LoadSession implements session.Storage; session.ErrNotFound when absent.
func (s *SessionStore) LoadSession(ctx context.Context) ([]byte, error) {
	ctx, cancel := detached(ctx)
	defer cancel()
	var row struct {
		KeyID string
		Data  []byte
	}
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT key_id, data FROM telegram_sessions WHERE name = ?`, s.name).Row().Scan(&row.KeyID, &row.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load telegram session: %w", err)
	}
	return s.keys.open(s.name, row.KeyID, row.Data)
}

// StoreSession implements session.Storage, encrypting with the current key.
func (s *SessionStore) StoreSession(ctx context.Context, data []byte) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	keyID, sealed, err := s.keys.seal(s.name, data)
	if err != nil {
		return fmt.Errorf("encrypt telegram session: %w", err)
	}
	err = s.db.Gorm.WithContext(ctx).Exec(`INSERT INTO telegram_sessions (name, key_id, data, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, data = excluded.data, updated_at = excluded.updated_at`,
		s.name, keyID, sealed, time.Now().UTC()).Error
	if err != nil {
		return fmt.Errorf("store telegram session: %w", err)
	}
	return nil
}

// Exists reports whether a session is stored, without decrypting it.
func (s *SessionStore) Exists(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT COUNT(*) FROM telegram_sessions WHERE name = ?`, s.name).Row().Scan(&n)
	return n > 0, err
}

// Delete forgets the session (logout).
func (s *SessionStore) Delete(ctx context.Context) error {
	return s.db.Gorm.WithContext(ctx).Exec(`DELETE FROM telegram_sessions WHERE name = ?`, s.name).Error
}

// Rotate re-encrypts the stored session with the current key.
func (s *SessionStore) Rotate(ctx context.Context) error {
	data, err := s.LoadSession(ctx)
	if errors.Is(err, session.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.StoreSession(ctx, data)
}
