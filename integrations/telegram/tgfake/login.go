package tgfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"math/big"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/crypto/srp"
	"github.com/gotd/td/tg"
)

// login is a sign-in in progress on one auth key.
type login struct {
	phone    string
	codeHash string
	userID   int64 // set once the code matched and a 2FA password is due

	// SRP session for account.getPassword → auth.checkPassword.
	srpID        int64
	salt1, salt2 []byte
	v, b, gb     *big.Int
}

const srpG = 3

func srpPad(x *big.Int) []byte {
	var b [256]byte
	x.FillBytes(b[:])
	return b[:]
}

func sha(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func (s *Server) registerLogin() {
	d := s.disp
	d.OnAuthSendCode(func(ctx context.Context, req *tg.AuthSendCodeRequest) (tg.AuthSentCodeClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.byPhone[req.PhoneNumber]; !ok {
			return nil, tgErr(400, "PHONE_NUMBER_INVALID")
		}
		l := &login{phone: req.PhoneNumber, codeHash: randHex(8)}
		s.logins[sessionOf(ctx).AuthKey.ID] = l
		return &tg.AuthSentCode{Type: &tg.AuthSentCodeTypeApp{Length: 5}, PhoneCodeHash: l.codeHash}, nil
	})

	d.OnAuthSignIn(func(ctx context.Context, req *tg.AuthSignInRequest) (tg.AuthAuthorizationClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		keyID := sessionOf(ctx).AuthKey.ID
		l, ok := s.logins[keyID]
		if !ok || l.phone != req.PhoneNumber || l.codeHash != req.PhoneCodeHash {
			return nil, tgErr(400, "PHONE_CODE_EXPIRED")
		}
		u := s.users[s.byPhone[l.phone]]
		if req.PhoneCode != u.Code {
			return nil, tgErr(400, "PHONE_CODE_INVALID")
		}
		if u.Password != "" {
			l.userID = u.ID
			return nil, tgErr(401, "SESSION_PASSWORD_NEEDED")
		}
		return s.authorize(keyID, u), nil
	})

	d.OnAccountGetPassword(func(ctx context.Context) (*tg.AccountPassword, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		l, ok := s.logins[sessionOf(ctx).AuthKey.ID]
		if !ok || l.userID == 0 {
			return nil, tgErr(401, "AUTH_KEY_UNREGISTERED")
		}
		// v = g^x, computed the way the client computes x (PBKDF2 and all),
		// so a correct password and only it yields the right M1.
		u := s.users[l.userID]
		p := srpPad(srpPrime)
		if u.srpV == nil {
			salt2 := make([]byte, 16)
			_, _ = rand.Read(salt2)
			v, salt1, err := srp.NewSRP(rand.Reader).NewHash([]byte(u.Password), srp.Input{Salt1: []byte("keycare-fake"), Salt2: salt2, G: srpG, P: p})
			if err != nil {
				return nil, err
			}
			u.srpSalt1, u.srpSalt2, u.srpV = salt1, salt2, new(big.Int).SetBytes(v)
		}
		l.salt1, l.salt2, l.v = u.srpSalt1, u.srpSalt2, u.srpV

		bBytes := make([]byte, 256)
		_, _ = rand.Read(bBytes)
		l.b = new(big.Int).SetBytes(bBytes)
		g := big.NewInt(srpG)
		k := new(big.Int).SetBytes(sha(p, srpPad(g)))
		gb := new(big.Int).Exp(g, l.b, srpPrime)
		l.gb = gb.Add(gb, k.Mul(k, l.v)).Mod(gb, srpPrime)
		l.srpID = randInt64()

		secure := make([]byte, 32)
		_, _ = rand.Read(secure)
		return &tg.AccountPassword{
			HasPassword: true,
			CurrentAlgo: &tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow{
				Salt1: l.salt1, Salt2: l.salt2, G: srpG, P: p,
			},
			SRPB:          srpPad(l.gb),
			SRPID:         l.srpID,
			NewAlgo:       &tg.PasswordKdfAlgoUnknown{},
			NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{},
			SecureRandom:  secure,
		}, nil
	})

	d.OnAuthCheckPassword(func(ctx context.Context, in tg.InputCheckPasswordSRPClass) (tg.AuthAuthorizationClass, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		keyID := sessionOf(ctx).AuthKey.ID
		l, ok := s.logins[keyID]
		check, isSRP := in.(*tg.InputCheckPasswordSRP)
		if !ok || l.userID == 0 || l.v == nil || !isSRP || check.SRPID != l.srpID {
			return nil, tgErr(400, "SRP_ID_INVALID")
		}
		if !l.verify(check.A, check.M1) {
			return nil, tgErr(400, "PASSWORD_HASH_INVALID")
		}
		return s.authorize(keyID, s.users[l.userID]), nil
	})
}

// verify checks the client's SRP proof: S = (A·v^u)^b, K = H(S),
// M1 = H(H(p)⊕H(g) | H(salt1) | H(salt2) | A | B | K).
func (l *login) verify(aBytes, m1 []byte) bool {
	a := new(big.Int).SetBytes(aBytes)
	if err := crypto.CheckDHParams(srpPrime, big.NewInt(srpG), a, l.gb); err != nil {
		return false
	}
	p, g := srpPad(srpPrime), srpPad(big.NewInt(srpG))
	pa, pb := srpPad(a), srpPad(l.gb)
	u := new(big.Int).SetBytes(sha(pa, pb))
	sv := new(big.Int).Exp(l.v, u, srpPrime)
	sv.Mul(sv, a).Mod(sv, srpPrime)
	sv.Exp(sv, l.b, srpPrime)
	k := sha(srpPad(sv))
	hp, hg := sha(p), sha(g)
	x := make([]byte, len(hp))
	for i := range hp {
		x[i] = hp[i] ^ hg[i]
	}
	return bytes.Equal(sha(x, sha(l.salt1), sha(l.salt2), pa, pb, k), m1)
}

// authorize binds an auth key to a user; the caller holds s.mu.
func (s *Server) authorize(keyID [8]byte, u *User) *tg.AuthAuthorization {
	s.authorized[keyID] = u.ID
	delete(s.logins, keyID)
	if _, ok := s.accounts[u.ID]; !ok {
		s.accounts[u.ID] = &account{pts: 1, seq: 0}
	}
	return &tg.AuthAuthorization{User: u.tg(u.ID)}
}

// Revoke logs an auth key's user out everywhere, as when the session is
// terminated from another device: later calls answer AUTH_KEY_UNREGISTERED.
func (s *Server) Revoke(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, uid := range s.authorized {
		if uid == userID {
			delete(s.authorized, k)
		}
	}
}
