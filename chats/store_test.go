package chats_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/internal/testdb"
	"github.com/keycare/keycare/team"
)

// enqueued records jobs enqueued in a transaction (the real queue is tested in internal/jobs).
type enqueued struct{ args []river.JobArgs }

func (e *enqueued) EnqueueTx(_ context.Context, _ *gorm.DB, args river.JobArgs, _ *river.InsertOpts) error {
	e.args = append(e.args, args)
	return nil
}

type fixture struct {
	db      *database.DB
	svc     *chats.Service
	jobs    *enqueued
	account string
	manager *team.User
	contact *accounts.Contact
}

const channel = int64(1_000_777)

func newFixture(t *testing.T, db *database.DB) *fixture {
	ctx := keycare.WithActor(context.Background(), keycare.SystemActor)
	tm := team.NewService(db.Gorm)
	tgID := int64(501)
	mgr, err := tm.Create(ctx, team.NewUser{Name: "Anna", Email: "anna@example.com", Role: keycare.RoleManager, TelegramUserID: &tgID})
	if err != nil {
		t.Fatal(err)
	}
	st := accounts.NewStore(db)
	acc, err := st.CreateAccount(ctx, accounts.NewAccount{Name: "Acme", Currency: "EUR", OwnerID: &mgr.ID})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContact(ctx, acc.ID, accounts.NewContact{Name: "Ivan", TelegramUsername: "ivan_acme"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, jobs: &enqueued{}, account: acc.ID, manager: mgr, contact: c}
	f.svc = chats.NewService(chats.NewStore(db), f.jobs)
	if _, _, err := f.svc.RequestChat(ctx, acc.ID); err != nil {
		t.Fatal(err)
	}
	// What the create job does on success, directly.
	if err := db.Gorm.Exec("UPDATE chats SET status = 'active', channel_id = ?, access_hash = 42 WHERE account_id = ?", channel, acc.ID).Error; err != nil {
		t.Fatal(err)
	}
	return f
}

func msg(id int, from int64, username, text string) chats.InboundMessage {
	return chats.InboundMessage{ChannelID: channel, MessageID: id, SenderTelegramID: from, SenderName: "Someone", SenderUsername: username, Text: text, Date: time.Unix(1_790_000_000+int64(id), 0)}
}

func TestMirrorIsIdempotent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		for i := 0; i < 3; i++ { // redelivery stores nothing twice
			for _, m := range []chats.InboundMessage{
				msg(1, 9001, "ivan_acme", "Hello, our invoices are wrong"),
				msg(2, 501, "anna", "Looking into it"),
				msg(3, 9002, "stranger", "Me too"),
			} {
				if err := f.svc.StoreMessage(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		l, err := f.svc.Messages(ctx, f.account, page.Request{})
		if err != nil || len(l.Items) != 3 {
			t.Fatalf("messages = %d, %v", len(l.Items), err)
		}
		bySide := map[int]chats.Message{}
		for _, m := range l.Items {
			bySide[*m.TelegramMessageID] = m
		}
		if m := bySide[1]; m.Side != "client" || m.Sender.Kind != "contact" || *m.Sender.ID != f.contact.ID {
			t.Errorf("client by username: %+v", m.Sender)
		}
		if m := bySide[2]; m.Side != "team" || m.Sender.Kind != "user" || *m.Sender.ID != f.manager.ID {
			t.Errorf("team by telegram id: %+v", m.Sender)
		}
		// The stranger became an unverified contact; Ivan's Telegram id was learnt.
		var unverified, learnt int64
		db.Gorm.Table("contacts").Where("account_id = ? AND NOT verified AND telegram_user_id = 9002", f.account).Count(&unverified)
		db.Gorm.Table("contacts").Where("id = ? AND telegram_user_id = 9001", f.contact.ID).Count(&learnt)
		if unverified != 1 || learnt != 1 {
			t.Errorf("unverified = %d, learnt = %d", unverified, learnt)
		}

		// Edits keep the previous text; replaying an old edit changes nothing.
		e1 := msg(1, 9001, "ivan_acme", "Hello, our invoices for May are wrong")
		e1.EditDate = e1.Date.Add(time.Minute)
		e0 := msg(1, 9001, "ivan_acme", "stale text")
		e0.EditDate = e1.Date.Add(-time.Second)
		for _, e := range []chats.InboundMessage{e1, e1, e0} {
			if err := f.svc.StoreEdit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		known, err := f.svc.KnownMessages(ctx, channel, 1, 3)
		if err != nil || known[0].Text != e1.Text {
			t.Fatalf("known = %+v, %v", known, err)
		}
		var versions int64
		db.Gorm.Table("message_versions").Count(&versions)
		if versions != 1 {
			t.Errorf("versions = %d, want 1", versions)
		}
		if err := f.svc.StoreDeletes(ctx, channel, []int{3, 3}, time.Now()); err != nil {
			t.Fatal(err)
		}
		known, _ = f.svc.KnownMessages(ctx, channel, 1, 3)
		if !known[2].Deleted {
			t.Error("delete not stored")
		}
	})
}

func TestOwnPostsAreStoredOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := keycare.WithActor(context.Background(), keycare.Actor{Kind: keycare.ActorUser, UserID: f.manager.ID, Role: keycare.RoleManager})
		reply, err := f.svc.QueueReply(ctx, f.account, chats.ReplyInput{Text: "We fixed the invoices."})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.jobs.args) < 2 || f.jobs.args[len(f.jobs.args)-1].Kind() != "message_send" {
			t.Fatalf("send job not enqueued: %v", f.jobs.args)
		}
		var rid int64
		db.Gorm.Table("messages").Where("id = ?", reply.ID).Pluck("random_id", &rid)
		// The push of our own post arrives before the send job learns its id...
		own := msg(10, 0, "", "We fixed the invoices.")
		own.Out = true
		if err := f.svc.StoreMessage(ctx, own); err != nil {
			t.Fatal(err)
		}
		// ...and then the job confirms it: still one message.
		if err := f.svc.ConfirmSent(ctx, rid, 10, time.Now()); err != nil {
			t.Fatal(err)
		}
		l, _ := f.svc.Messages(ctx, f.account, page.Request{})
		if len(l.Items) != 1 || l.Items[0].ID != reply.ID || l.Items[0].Status != "sent" || *l.Items[0].TelegramMessageID != 10 {
			t.Fatalf("messages = %+v", l.Items)
		}
		// Sending needs an active chat.
		if _, err := f.svc.Archive(ctx, f.account); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.QueueReply(ctx, f.account, chats.ReplyInput{Text: "x"}); keycare.ErrorCode(err) != keycare.ECONFLICT {
			t.Errorf("reply to archived chat: %v", err)
		}
		// An archived chat is no longer mirrored.
		if err := f.svc.StoreMessage(ctx, msg(11, 9001, "ivan_acme", "anyone?")); err != nil {
			t.Fatal(err)
		}
		if l, _ := f.svc.Messages(ctx, f.account, page.Request{}); len(l.Items) != 1 {
			t.Errorf("archived chat mirrored: %d", len(l.Items))
		}
	})
}

func TestLostAccessAndMedia(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		doc := msg(5, 9001, "ivan_acme", "the contract")
		doc.Media = &chats.Media{Kind: "document", FileName: "contract.pdf", MimeType: "application/pdf", Size: 1234}
		for _, m := range []chats.InboundMessage{msg(4, 9001, "ivan_acme", "plain"), doc} {
			if err := f.svc.StoreMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		l, _ := f.svc.Messages(ctx, f.account, page.Request{})
		ids := map[string]string{}
		for _, m := range l.Items {
			ids[m.Text] = m.ID
		}
		if _, _, _, err := f.svc.MessageMedia(ctx, f.account, ids["plain"]); keycare.ErrorCode(err) != keycare.ENOTFOUND {
			t.Errorf("media of a text message: %v", err)
		}
		g, tgID, media, err := f.svc.MessageMedia(ctx, f.account, ids["the contract"])
		if err != nil || g.ChannelID != channel || g.AccessHash != 42 || tgID != 5 || media.FileName != "contract.pdf" {
			t.Errorf("media = %+v %d %+v %v", g, tgID, media, err)
		}
		if _, _, _, err := f.svc.MessageMedia(ctx, "someone-elses-account", ids["the contract"]); keycare.ErrorCode(err) != keycare.ENOTFOUND {
			t.Errorf("media through another account: %v", err)
		}

		for i := 0; i < 2; i++ { // told twice, flagged once
			if err := f.svc.MarkInaccessible(ctx, channel, "CHANNEL_PRIVATE"); err != nil {
				t.Fatal(err)
			}
		}
		v, err := f.svc.Chat(ctx, f.account)
		if err != nil || v.Status != chats.StatusLostAccess || v.LastError != "CHANNEL_PRIVATE" {
			t.Errorf("chat = %+v, %v", v, err)
		}
		var alerts int64
		db.Gorm.Table("audit_events").Where("action = 'chat.lost_access'").Count(&alerts)
		if alerts != 1 {
			t.Errorf("%d lost-access alerts", alerts)
		}
	})
}
