package api

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/gommon/bytes"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keycare/keycare"
	"github.com/keycare/keycare/accounts"
	"github.com/keycare/keycare/audit"
	"github.com/keycare/keycare/chats"
	"github.com/keycare/keycare/internal/database"
	"github.com/keycare/keycare/internal/page"
	"github.com/keycare/keycare/requests"
	"github.com/keycare/keycare/requests/metrics"
	"github.com/keycare/keycare/requests/replycheck"
	"github.com/keycare/keycare/team"
)

// The tests below keep api/openapi.json true to the code: every registered
// route is documented (and nothing else), with the roles, object scope,
// handler name, body limit and conventions of its rule, and every body
// schema has the JSON fields and types of the Go type behind it.

// openAPIServer builds the API without stores: no request is served.
func openAPIServer(t *testing.T) *Server {
	t.Helper()
	return New(Config{RateLimit: 100, RateBurst: 100}, Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(),
	})
}

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("api/openapi.json does not parse as OpenAPI: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.json is not valid OpenAPI: %v", err)
	}
	return doc
}

var echoParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// openAPIPath turns echo's "/accounts/:id" into OpenAPI's "/accounts/{id}".
func openAPIPath(echoPath string) string { return echoParam.ReplaceAllString(echoPath, "{$1}") }

// documentedRoute is one operation of the document with the rule behind it.
type documentedRoute struct {
	key      string // "GET /api/v1/accounts/{id}"
	echoKey  string // "GET /api/v1/accounts/:id"
	op       *openapi3.Operation
	rule     string // Rules() value: "roles|scope"
	internal rule
}

// openAPIRoutes pairs every documented operation with its registered rule.
// It fails the test for each route missing from the document and each
// documented operation that is not registered.
func openAPIRoutes(t *testing.T, s *Server, doc *openapi3.T) []documentedRoute {
	t.Helper()
	registered := map[string]string{} // OpenAPI key → echo key
	for k := range s.Rules() {
		method, path, _ := strings.Cut(k, " ")
		registered[method+" "+openAPIPath(path)] = k
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	var missing, extra []string
	for k := range registered {
		if documented[k] == nil {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := registered[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is registered in api/routes.go but not documented in api/openapi.json", k)
	}
	for _, k := range extra {
		t.Errorf("api/openapi.json documents %s, which is not a registered route", k)
	}
	rules := s.Rules()
	var out []documentedRoute
	for k, echoKey := range registered {
		if op := documented[k]; op != nil {
			out = append(out, documentedRoute{key: k, echoKey: echoKey, op: op, rule: rules[echoKey], internal: s.rules[echoKey]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func TestOpenAPIIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers must be [{url: \"/\"}] so that paths are full paths")
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value == nil || s.Value.Type != "http" || !strings.EqualFold(s.Value.Scheme, "bearer") {
		t.Errorf("components.securitySchemes.bearerAuth must be an HTTP bearer scheme")
	}
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := openAPIServer(t)
	doc := loadOpenAPI(t)
	routes := openAPIRoutes(t, s, doc)
	t.Logf("%d operations documented, %d routes registered", len(routes), len(s.Rules()))
}

// extStrings reads an extension holding an array of strings.
func extStrings(op *openapi3.Operation, name string) ([]string, bool) {
	raw, ok := op.Extensions[name]
	if !ok {
		return nil, false
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func TestOpenAPIRolesMatchRules(t *testing.T) {
	s := openAPIServer(t)
	doc := loadOpenAPI(t)
	for _, r := range openAPIRoutes(t, s, doc) {
		roles, scope, _ := strings.Cut(r.rule, "|")
		var want []string
		switch roles {
		case "public":
			want = []string{}
		case "all":
			want = slices.Clone(keycare.Roles)
		default:
			want = strings.Split(roles, ",")
		}
		got, ok := extStrings(r.op, "x-keycare-roles")
		if !ok {
			t.Errorf("%s: x-keycare-roles must be an array of role names (rule %q)", r.key, r.rule)
			continue
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-keycare-roles = %v, but routes.go allows %v (rule %q)", r.key, got, want, r.rule)
		}
		for _, role := range want {
			if !strings.Contains(r.op.Description, role) {
				t.Errorf("%s: the description does not name role %s", r.key, role)
			}
		}

		gotScope, _ := r.op.Extensions["x-keycare-scope"].(string)
		if gotScope != scope {
			t.Errorf("%s: x-keycare-scope = %q, but routes.go scopes it to %q", r.key, gotScope, scope)
		}

		public := roles == "public"
		switch {
		case public && (r.op.Security == nil || len(*r.op.Security) != 0):
			t.Errorf("%s is public: it must say security: []", r.key)
		case !public:
			sec := doc.Security
			if r.op.Security != nil {
				sec = *r.op.Security
			}
			if !slices.ContainsFunc(sec, func(req openapi3.SecurityRequirement) bool { _, ok := req["bearerAuth"]; return ok }) {
				t.Errorf("%s needs a token: it must be covered by the bearerAuth security scheme", r.key)
			}
		}
	}
}

// handlerName turns echo's "github.com/…/api.(*Server).getCard-fm" into "getCard".
func handlerName(full string) string {
	full = strings.TrimSuffix(full, "-fm")
	return full[strings.LastIndex(full, ".")+1:]
}

func TestOpenAPIOperationIDsNameHandlers(t *testing.T) {
	s := openAPIServer(t)
	doc := loadOpenAPI(t)
	handlers := map[string]string{}
	for _, rt := range s.echo.Routes() {
		handlers[rt.Method+" "+rt.Path] = handlerName(rt.Name)
	}
	for _, r := range openAPIRoutes(t, s, doc) {
		if want := handlers[r.echoKey]; r.op.OperationID != want {
			t.Errorf("%s: operationId = %q, want the handler's name %q", r.key, r.op.OperationID, want)
		}
	}
}

func hasResponse(op *openapi3.Operation, status string) bool {
	return op.Responses != nil && op.Responses.Value(status) != nil
}

func findParam(op *openapi3.Operation, in, name string) *openapi3.Parameter {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == in && p.Value.Name == name {
			return p.Value
		}
	}
	return nil
}

// isClosed reports whether an object schema refuses unknown fields.
func isClosed(s *openapi3.Schema) bool {
	return s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
}

func TestOpenAPIConventions(t *testing.T) {
	s := openAPIServer(t)
	doc := loadOpenAPI(t)
	for _, r := range openAPIRoutes(t, s, doc) {
		roles, scope, _ := strings.Cut(r.rule, "|")
		method := r.key[:strings.Index(r.key, " ")]
		need := func(status, why string) {
			if !hasResponse(r.op, status) {
				t.Errorf("%s: no %s response (%s)", r.key, status, why)
			}
		}
		if roles != "public" {
			need("401", "it needs a token")
			need("429", "tokens are rate limited")
			if roles != "all" {
				need("403", "not every role may call it")
			}
		} else if hasResponse(r.op, "401") {
			t.Errorf("%s is public: it cannot answer 401", r.key)
		}
		if scope != "" {
			need("404", "objects the caller cannot see are 404")
			if !strings.Contains(r.op.Description, "404") {
				t.Errorf("%s: the description must say that objects the caller cannot see are 404, not 403", r.key)
			}
		}
		for status, resp := range r.op.Responses.Map() {
			if status[0] != '4' && status[0] != '5' || resp.Value == nil {
				continue
			}
			if resp.Value.Content.Get("application/problem+json") == nil {
				t.Errorf("%s: the %s response must be application/problem+json", r.key, status)
			}
		}

		if method == "PATCH" {
			if findParam(r.op, "header", "If-Match") == nil {
				t.Errorf("%s: PATCH must document the If-Match header", r.key)
			}
			need("412", "If-Match may not match")
		}

		if body := r.op.RequestBody; body != nil && body.Value != nil {
			limit := r.internal.limit()
			wantLimit, err := bytes.Parse(limit)
			if err != nil {
				t.Fatalf("%s: body limit %q: %v", r.key, limit, err)
			}
			if got, _ := r.op.Extensions["x-keycare-body-limit"].(float64); int64(got) != wantLimit {
				t.Errorf("%s: x-keycare-body-limit = %v, but the route limits bodies to %d bytes (%q)", r.key, got, wantLimit, limit)
			}
			need("413", "bodies are limited")
			need("400", "bodies are validated")
			if mt := body.Value.Content.Get("application/json"); mt != nil {
				need("415", "only JSON bodies are accepted")
				sch := mt.Schema.Value
				if sch.Type.Is(openapi3.TypeArray) {
					sch = sch.Items.Value
				}
				if !isClosed(sch) {
					t.Errorf("%s: the request body schema must say additionalProperties: false (unknown fields are refused)", r.key)
				}
			} else {
				t.Errorf("%s: the request body must accept application/json", r.key)
			}
		}

		if strings.HasPrefix(r.op.OperationID, "list") {
			limit, cursor := findParam(r.op, "query", "limit"), findParam(r.op, "query", "cursor")
			if limit == nil || cursor == nil {
				t.Errorf("%s: a list must document ?limit= and ?cursor=", r.key)
				continue
			}
			ls := limit.Schema.Value
			if ls.Min == nil || *ls.Min != 1 || ls.Max == nil || *ls.Max != page.MaxLimit || ls.Default != float64(page.DefaultLimit) {
				t.Errorf("%s: ?limit= must be 1–%d, default %d", r.key, page.MaxLimit, page.DefaultLimit)
			}
			need("400", "a bad limit or cursor is refused")
			ok := r.op.Responses.Value("200")
			if ok == nil || ok.Value.Content.Get("application/json") == nil {
				t.Errorf("%s: a list must answer 200 with JSON", r.key)
				continue
			}
			props, _ := schemaProps(ok.Value.Content.Get("application/json").Schema.Value)
			if props["items"] == nil || props["next_cursor"] == nil {
				t.Errorf("%s: a list must answer {items, next_cursor}", r.key)
			}
		}
	}
}

// schemaProps collects the properties and required names of an object
// schema, through allOf.
func schemaProps(s *openapi3.Schema) (map[string]*openapi3.SchemaRef, map[string]bool) {
	props, required := map[string]*openapi3.SchemaRef{}, map[string]bool{}
	for _, sub := range s.AllOf {
		p, r := schemaProps(sub.Value)
		for k, v := range p {
			props[k] = v
		}
		for k := range r {
			required[k] = true
		}
	}
	for k, v := range s.Properties {
		props[k] = v
	}
	for _, k := range s.Required {
		required[k] = true
	}
	return props, required
}

// schemaTypes returns the JSON types a schema allows and whether it allows
// null, looking through oneOf, anyOf and allOf. A null branch is written
// {enum: [null]}.
func schemaTypes(ref *openapi3.SchemaRef) (types []string, nullable bool) {
	s := ref.Value
	if s.Type == nil && len(s.Enum) == 1 && s.Enum[0] == nil {
		return nil, true
	}
	if s.Type != nil {
		for _, typ := range s.Type.Slice() {
			if typ == "null" {
				nullable = true
			} else {
				types = append(types, typ)
			}
		}
	}
	for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
		for _, sub := range group {
			ts, n := schemaTypes(sub)
			types = append(types, ts...)
			nullable = nullable || n
		}
	}
	slices.Sort(types)
	return slices.Compact(types), nullable
}

var (
	timeType = reflect.TypeFor[time.Time]()
	jsonType = reflect.TypeFor[database.JSON]()
)

// goJSONTypes returns the JSON type a Go type encodes to and whether it may
// be null; nil types mean any JSON value.
func goJSONTypes(t reflect.Type) (types []string, nullable bool) {
	if t.PkgPath() == "github.com/keycare/keycare" && strings.HasPrefix(t.Name(), "Optional[") {
		f, _ := t.FieldByName("Value")
		inner, _ := goJSONTypes(f.Type)
		return inner, true
	}
	switch {
	case t == timeType:
		return []string{"string"}, false
	case t == jsonType:
		return nil, false
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner, _ := goJSONTypes(t.Elem())
		return inner, true
	case reflect.String:
		return []string{"string"}, false
	case reflect.Bool:
		return []string{"boolean"}, false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []string{"integer"}, false
	case reflect.Float32, reflect.Float64:
		return []string{"number"}, false
	case reflect.Slice, reflect.Array:
		return []string{"array"}, false
	case reflect.Map, reflect.Struct:
		return []string{"object"}, false
	}
	return nil, false
}

type goField struct {
	name     string
	typ      reflect.Type
	optional bool // omitempty or omitzero: may be absent
}

// goJSONFields lists the JSON fields of a struct as encoding/json sees them.
// A field of the struct itself hides an embedded struct's field of the same
// name, as in encoding/json (api.SentMessage's warnings hide chats.Message's).
func goJSONFields(t reflect.Type) []goField {
	var out, promoted []goField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				promoted = append(promoted, goJSONFields(et)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := false
		for _, o := range strings.Split(opts, ",") {
			optional = optional || o == "omitempty" || o == "omitzero"
		}
		out = append(out, goField{name: name, typ: f.Type, optional: optional})
	}
	for _, f := range promoted {
		if !slices.ContainsFunc(out, func(o goField) bool { return o.name == f.name }) {
			out = append(out, f)
		}
	}
	return out
}

// openAPIGoTypes maps each body schema to the Go type the API decodes or
// encodes. Request types must refuse unknown fields; response types must
// require every field that is always sent.
var openAPIGoTypes = map[string]struct {
	v       any
	request bool
}{
	"Problem":       {Problem{}, false},
	"FieldError":    {keycare.FieldError{}, false},
	"Page":          {page.List[any]{}, false},
	"User":          {team.User{}, false},
	"NewUser":       {team.NewUser{}, true},
	"UserUpdate":    {team.UserUpdate{}, true},
	"TokenRequest":  {tokenRequest{}, true},
	"Account":       {accounts.Account{}, false},
	"NewAccount":    {accounts.NewAccount{}, true},
	"AccountUpdate": {accounts.AccountUpdate{}, true},
	"Person":        {accounts.Person{}, false},
	"Chat":          {chats.Chat{}, false},
	"Card":          {accounts.Card{}, false},
	"Contact":       {accounts.Contact{}, false},
	"NewContact":    {accounts.NewContact{}, true},
	"ContactUpdate": {accounts.ContactUpdate{}, true},
	"RevenueEntry":  {accounts.RevenueEntry{}, false},
	"RevenueInput":  {accounts.RevenueInput{}, true},
	"ImportRow":     {accounts.ImportRow{}, true},
	"ImportResult":  {accounts.ImportResult{}, false},
	"Service":       {accounts.Service{}, false},
	"NewService":    {accounts.NewService{}, true},
	"ServiceUpdate": {accounts.ServiceUpdate{}, true},
	"Note":          {accounts.Note{}, false},
	"NewNote":       {accounts.NewNote{}, true},
	"NoteUpdate":    {accounts.NoteUpdate{}, true},
	"NoteRevision":  {accounts.NoteRevision{}, false},
	"Event":         {audit.Event{}, false},

	"Empty":             {struct{}{}, true},
	"Member":            {chats.Member{}, false},
	"AdoptInput":        {chats.AdoptInput{}, true},
	"Sender":            {chats.Sender{}, false},
	"Media":             {chats.Media{}, false},
	"Message":           {chats.Message{}, false},
	"ReplyInput":        {chats.ReplyInput{}, true},
	"IntegrationStatus": {IntegrationStatus{}, false},

	"SentMessage":       {SentMessage{}, false},
	"ReplyCheckWarning": {replycheck.Warning{}, false},
	"Request":           {requests.Request{}, false},
	"RequestDetail":     {requests.Detail{}, false},
	"RequestMessage":    {requests.MessageRef{}, false},
	"Clock":             {requests.ClockView{}, false},
	"Alert":             {requests.Alert{}, false},
	"Handover":          {requests.Handover{}, false},
	"QAReview":          {requests.Review{}, false},
	"NewRequest":        {requests.NewRequest{}, true},
	"RequestUpdate":     {requests.RequestUpdate{}, true},
	"SplitInput":        {requests.SplitInput{}, true},
	"MergeInput":        {requests.MergeInput{}, true},
	"QAInput":           {requests.QAInput{}, true},
	"NewHandover":       {requests.NewHandover{}, true},
	"SLATargets":        {requests.Targets{}, false},
	"BusinessHours":     {requests.BusinessHours{}, true}, // in bodies and answers: holidays may be left out
	"SLAPolicy":         {requests.SLAPolicy{}, false},
	"NewSLAPolicy":      {requests.NewSLAPolicy{}, true},
	"SLAPolicyUpdate":   {requests.SLAPolicyUpdate{}, true},
	"SupportReport":     {metrics.Report{}, false},
	"SupportRow":        {metrics.Row{}, false},
	"ClockDurations":    {metrics.Durations{}, false},
}

func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, gt := range openAPIGoTypes {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Errorf("components.schemas.%s is missing", name)
			continue
		}
		props, required := schemaProps(ref.Value)
		fields := goJSONFields(reflect.TypeOf(gt.v))
		seen := map[string]bool{}
		for _, f := range fields {
			seen[f.name] = true
			p := props[f.name]
			if p == nil {
				t.Errorf("%s: field %q is sent or accepted by the API but not documented", name, f.name)
				continue
			}
			want, wantNull := goJSONTypes(f.typ)
			if want != nil {
				got, gotNull := schemaTypes(p)
				if !slices.Equal(got, want) || gotNull != wantNull {
					t.Errorf("%s.%s: documented as %v (nullable %v), but Go %s encodes %v (nullable %v)", name, f.name, got, gotNull, f.typ, want, wantNull)
				}
			}
			if !gt.request && required[f.name] == f.optional {
				if f.optional {
					t.Errorf("%s.%s: may be absent (omitempty/omitzero), so it must not be required", name, f.name)
				} else {
					t.Errorf("%s.%s: is always sent, so it must be required", name, f.name)
				}
			}
		}
		for p := range props {
			if !seen[p] {
				t.Errorf("%s: documents %q, which the Go type %T does not have", name, p, gt.v)
			}
		}
		if gt.request && !isClosed(ref.Value) {
			t.Errorf("%s: request bodies refuse unknown fields: say additionalProperties: false", name)
		}
	}
}

// TestOpenAPIListsAreNarrowed checks that each list names its item schema.
func TestOpenAPIListsAreNarrowed(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, ref := range doc.Components.Schemas {
		if !strings.HasSuffix(name, "Page") || name == "Page" {
			continue
		}
		props, required := schemaProps(ref.Value)
		items := props["items"]
		if items == nil || items.Value.Items == nil || items.Value.Items.Ref != "#/components/schemas/"+strings.TrimSuffix(name, "Page") {
			t.Errorf("%s: items must be an array of %s", name, strings.TrimSuffix(name, "Page"))
		}
		if !required["items"] || !required["next_cursor"] {
			t.Errorf("%s: items and next_cursor are always sent", name)
		}
	}
}
