package team_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/testdb"
	"github.com/keycare/keycare/team"
)

func TestTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		ctx := keycare.WithActor(context.Background(), keycare.SystemActor)
		svc := team.NewService(db.Gorm)
		token, created, err := svc.Bootstrap(ctx, "root@example.com")
		if err != nil || !created || !strings.HasPrefix(token, "kc_") {
			t.Fatalf("bootstrap: %q %v %v", token, created, err)
		}
		if _, again, err := svc.Bootstrap(ctx, "root@example.com"); err != nil || again {
			t.Errorf("second bootstrap created an admin: %v %v", again, err)
		}
		u, err := svc.Authenticate(ctx, token)
		if err != nil || u.Role != keycare.RoleAdmin {
			t.Fatalf("authenticate: %v %v", u, err)
		}
		// Only the hash is stored.
		var stored int64
		db.Gorm.Table("api_tokens").Where("hash = ?", token).Count(&stored)
		if stored != 0 {
			t.Error("the token is stored in clear")
		}
		for _, bad := range []string{"", "kc_", "kc_" + strings.Repeat("A", 43), token + "x", strings.ToUpper(token)} {
			if _, err := svc.Authenticate(ctx, bad); keycare.ErrorCode(err) != keycare.EUNAUTHORIZED {
				t.Errorf("token %q: %v", bad, err)
			}
		}
		// A deactivated user's tokens stop working.
		if _, err := svc.Update(ctx, u.ID, team.UserUpdate{Active: keycare.Some(false)}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, token); keycare.ErrorCode(err) != keycare.EUNAUTHORIZED {
			t.Errorf("inactive user authenticated: %v", err)
		}
	})
}
