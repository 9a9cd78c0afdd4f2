package dashboard

import (
	"reflect"
	"testing"
	"time"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

func TestEventConsumers(t *testing.T) {
	m := &devenv.Manifest{Services: map[string]devenv.Service{
		"orders":   {DB: devenv.DBSQLite},
		"payments": {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.created"}},
		"mailer":   {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.deleted"}},
		"audit":    {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.created"}},
	}}
	broker := runner.ServiceStatus{Service: devenv.KindNATS, Role: devenv.RoleInfra, State: "running", Ready: true}
	list := []runner.ServiceStatus{
		broker,
		{Service: "orders", Role: devenv.RoleService, State: "running"},
		{Service: "payments", Role: devenv.RoleService, State: "running",
			Consumer: &runner.ConsumerStatus{Pending: 7, AckPending: 2, Redelivered: 1}},
		{Service: "mailer", Role: devenv.RoleService, State: "exited"},
		{Service: "audit", Role: devenv.RoleService, State: "running"},
	}
	got, err := EventConsumersOf(m, list)
	want := []EventConsumer{
		{Service: "audit", Subscribes: []string{"orders.item.created"}, Problem: "no consumer read from the broker"},
		{Service: "mailer", Subscribes: []string{"orders.item.deleted"}, Problem: "not running"},
		{Service: "payments", Subscribes: []string{"orders.item.created"}, Pending: 7, Unacked: 2, Redelivered: 1},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("EventConsumersOf = %+v, %v\nwant %+v", got, err, want)
	}

	list[0].Ready = false
	if _, err := EventConsumersOf(m, list); err == nil || err.Error() != "the broker is not answering on its monitoring port" {
		t.Errorf("broker not ready: %v", err)
	}
	list[0].State = "exited"
	if _, err := EventConsumersOf(m, list); err == nil || err.Error() != "the broker is not running (msx up starts it)" {
		t.Errorf("broker exited: %v", err)
	}
	if _, err := EventConsumersOf(m, list[1:]); err == nil {
		t.Error("no broker container: no error")
	}

	if tabs := Tabs(m, nil, nil, time.Second); len(tabs) != 3 || tabs[2].Title() != "events" {
		t.Errorf("tabs of a project with subscribers: %d", len(tabs))
	}
	if tabs := Tabs(&devenv.Manifest{Services: map[string]devenv.Service{"orders": {}}}, nil, nil, time.Second); len(tabs) != 2 {
		t.Errorf("a project without subscribers has %d tabs, want 2 (no events)", len(tabs))
	}
}

func TestBreakersOf(t *testing.T) {
	list := []runner.ServiceStatus{
		{Service: "orders", Role: devenv.RoleService, State: "running", Breakers: map[string]string{"payments": "open"}},
		{Service: "payments", Role: devenv.RoleService, State: "running"},
		{Service: "gateway", Role: devenv.RoleGateway, State: "exited"},
		{Service: "orders-db", Role: devenv.RoleDatabase, State: "running"},
	}
	want := []ProgramBreakers{
		{Program: "orders", Breakers: map[string]string{"payments": "open"}},
		{Program: "payments", Problem: "admin listener not answering"},
		{Program: "gateway", Problem: "not running"},
	}
	if got := BreakersOf(list); !reflect.DeepEqual(got, want) {
		t.Errorf("BreakersOf = %+v\nwant %+v", got, want)
	}
}
