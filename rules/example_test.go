package rules_test

import (
	"fmt"

	"github.com/eventrouter/eventrouter/rules"
)

func ExampleCompile() {
	p, err := rules.Compile([]byte(`{"source":["orders.service"],"detail":{"total":[{"numeric":[">=",1000]}]}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Match([]byte(`{"source":"orders.service","detail":{"total":1250}}`)))
	fmt.Println(p.Match([]byte(`{"source":"orders.service","detail":{"total":99.5}}`)))
	// Output:
	// true
	// false
}

func ExampleCompile_error() {
	_, err := rules.Compile([]byte(`{"detail":{"total":[{"numeric":[">",30,"<",1]}]}}`))
	fmt.Println(err)
	// Output:
	// detail.total: numeric: lower bound 30 must be below upper bound 1
}

func ExampleTable_Match() {
	var rs []rules.Rule
	for name, pattern := range map[string]string{
		"inventory": `{"source":["orders.service"],"detail-type":["OrderCreated"]}`,
		"vip-alert": `{"detail-type":["OrderCreated"],"detail":{"total":[{"numeric":[">=",1000]}]}}`,
		"refunds":   `{"detail-type":["OrderRefunded"]}`,
	} {
		rs = append(rs, rules.Rule{Name: name, Pattern: rules.MustCompile(pattern)})
	}
	t, err := rules.NewTable(rs)
	if err != nil {
		panic(err)
	}
	matched := t.Match([]byte(`{"source":"orders.service","detail-type":"OrderCreated","detail":{"total":1250}}`))
	fmt.Println(len(matched))
	// Output:
	// 2
}

func ExamplePattern_Explain() {
	p := rules.MustCompile(`{"source":["orders.service"],"detail":{"total":[{"numeric":[">=",1000]}]}}`)
	ex := p.Explain([]byte(`{"source":"orders.service","detail":{"total":250}}`))
	fmt.Println(ex.Matched)
	fmt.Println(ex.Failures[0])
	// Output:
	// false
	// detail.total: no value matches (pattern [{"numeric":[">=",1000]}], event has 250)
}
