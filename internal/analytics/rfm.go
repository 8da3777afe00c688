package analytics

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of SegmentCustomers.
const (
	// MaxCustomers bounds len(SegmentInput.Customers) and the number of
	// distinct customers in SegmentInput.Transactions.
	MaxCustomers = 100_000
	// MaxTransactions bounds len(SegmentInput.Transactions).
	MaxTransactions = 1_000_000
)

// RFM segment names, from the best customers to the lost ones.
const (
	SegmentChampions          = "Champions"
	SegmentLoyalCustomers     = "Loyal Customers"
	SegmentPotentialLoyalists = "Potential Loyalists"
	SegmentNewCustomers       = "New Customers"
	SegmentPromising          = "Promising"
	SegmentNeedAttention      = "Need Attention"
	SegmentAboutToSleep       = "About To Sleep"
	SegmentAtRisk             = "At Risk"
	SegmentCantLoseThem       = "Can't Lose Them"
	SegmentHibernating        = "Hibernating"
	SegmentLost               = "Lost"
)

// Segments lists the segment names in the order SegmentOutput.Segments uses.
func Segments() []string {
	return []string{
		SegmentChampions, SegmentLoyalCustomers, SegmentPotentialLoyalists, SegmentNewCustomers,
		SegmentPromising, SegmentNeedAttention, SegmentAboutToSleep, SegmentAtRisk,
		SegmentCantLoseThem, SegmentHibernating, SegmentLost,
	}
}

// SegmentInput is the customer_segmenter tool's arguments. Give exactly one
// of Customers (one summary record per customer) or Transactions (one record
// per purchase, aggregated here per customer).
type SegmentInput struct {
	// Customers holds 1..MaxCustomers records with unique customer ids.
	Customers []CustomerRecord `json:"customers,omitempty"`
	// Transactions holds 1..MaxTransactions purchases of at most
	// MaxCustomers distinct customers.
	Transactions []Transaction `json:"transactions,omitempty"`
	// ReferenceDate is the day recency is measured from (YYYY-MM-DD or
	// RFC 3339). Absent: the day after the latest purchase in the input, not
	// today, so the same input always gives the same segments. It must not be
	// before any purchase.
	ReferenceDate string `json:"reference_date,omitempty"`
}

// CustomerRecord summarises one customer's purchases.
type CustomerRecord struct {
	// CustomerID is a unique, non-blank id of at most MaxLabelLength bytes.
	CustomerID string `json:"customer_id"`
	// LastPurchaseDate is YYYY-MM-DD or RFC 3339; a timestamp counts as its
	// UTC calendar day.
	LastPurchaseDate string `json:"last_purchase_date"`
	// Frequency is the number of purchases, >= 0.
	Frequency int `json:"frequency"`
	// Monetary is the total spent, >= 0.
	Monetary float64 `json:"monetary"`
}

// Transaction is one purchase.
type Transaction struct {
	// CustomerID is non-blank, at most MaxLabelLength bytes.
	CustomerID string `json:"customer_id"`
	// Date is YYYY-MM-DD or RFC 3339, as for LastPurchaseDate.
	Date string `json:"date"`
	// Amount is the purchase's value, >= 0 (record a refund by lowering the
	// original amount).
	Amount float64 `json:"amount"`
}

// SegmentOutput is the customer_segmenter tool's result.
type SegmentOutput struct {
	// ReferenceDate is the day recency was measured from, YYYY-MM-DD.
	ReferenceDate string `json:"reference_date"`
	// CustomerCount is len(Customers).
	CustomerCount int `json:"customer_count"`
	// Customers holds the scores in input order (for transactions: in order
	// of each customer's first transaction).
	Customers []CustomerScore `json:"customers"`
	// Segments summarises the non-empty segments, in the order of Segments().
	Segments []SegmentSummary `json:"segments"`
	// Notes hold caveats about the scores.
	Notes []string `json:"notes"`
}

// CustomerScore is one customer's RFM figures, scores and segment.
type CustomerScore struct {
	CustomerID string `json:"customer_id"` // trimmed
	// LastPurchaseDate is YYYY-MM-DD (UTC).
	LastPurchaseDate string `json:"last_purchase_date"`
	// RecencyDays = reference date − last purchase date, in whole days.
	RecencyDays int `json:"recency_days"`
	Frequency   int `json:"frequency"` // given, or the number of transactions
	// Monetary is rounded to 2 decimals.
	Monetary float64 `json:"monetary"`
	// RScore, FScore and MScore are 1..5; see SegmentCustomers.
	RScore int `json:"r_score"`
	FScore int `json:"f_score"` // see RScore
	MScore int `json:"m_score"` // see RScore
	// RFMScore is the three scores as digits, e.g. "545".
	RFMScore string `json:"rfm_score"`
	// Segment is one of Segments().
	Segment string `json:"segment"`
}

// SegmentSummary describes one segment. Averages and totals are rounded to
// 2 decimals.
type SegmentSummary struct {
	Segment string `json:"segment"` // one of Segments()
	Count   int    `json:"count"`   // customers in the segment, >= 1
	// SharePct = count / customers × 100.
	SharePct float64 `json:"share_pct"`
	// TotalMonetary sums the segment's monetary values; MonetarySharePct is
	// its share of all customers' total (0 when that total is 0).
	TotalMonetary    float64 `json:"total_monetary"`
	MonetarySharePct float64 `json:"monetary_share_pct"` // see TotalMonetary
	// AverageMonetary, AverageFrequency and AverageRecencyDays are the
	// segment's means.
	AverageMonetary    float64 `json:"average_monetary"`
	AverageFrequency   float64 `json:"average_frequency"`
	AverageRecencyDays float64 `json:"average_recency_days"`
}

// rfmCustomer is one customer's aggregated figures; day counts days since
// 1970-01-01 (UTC).
type rfmCustomer struct {
	id        string
	day       int64
	frequency int
	monetary  float64
}

// SegmentCustomers scores customers by recency, frequency and monetary value
// and assigns each a segment.
//
// Recency is the number of days from the last purchase (its UTC calendar day)
// to the reference date. Each of R, F and M is scored 1..5 by quintile rank
// among the customers:
//
//	score = 1 + ⌊5 · w / n⌋
//
// where n is the number of customers and w the number of customers with a
// strictly worse value (for R: a longer recency; for F and M: a lower value).
// For distinct values this is NTILE(5) over the sorted values (groups differ
// in size by at most one); tied values share the score of the lowest of their
// ranks, so the result never depends on ids or input order, and a value held
// by many customers (say frequency 1) does not spread over several scores.
// With fewer than 5 customers not every score can occur.
//
// The segment follows the widely used R × FM grid, with FM = ⌈(F + M) / 2⌉
// (their mean rounded half up):
//
//	R \ FM  1               2                    3                    4                5
//	5       New Customers   Potential Loyalists  Potential Loyalists  Champions        Champions
//	4       Promising       Potential Loyalists  Potential Loyalists  Loyal Customers  Loyal Customers
//	3       About To Sleep  About To Sleep       Need Attention       Loyal Customers  Loyal Customers
//	2       Hibernating     Hibernating          At Risk              At Risk          Can't Lose Them
//	1       Lost            Hibernating          At Risk              At Risk          Can't Lose Them
func SegmentCustomers(in SegmentInput) (SegmentOutput, error) {
	if len(in.Customers) > MaxCustomers {
		return SegmentOutput{}, tooLargef("customers has %d records; the limit is %d", len(in.Customers), MaxCustomers)
	}
	if len(in.Transactions) > MaxTransactions {
		return SegmentOutput{}, tooLargef("transactions has %d records; the limit is %d", len(in.Transactions), MaxTransactions)
	}
	var (
		cs  []rfmCustomer
		err error
	)
	switch {
	case len(in.Customers) > 0 && len(in.Transactions) > 0:
		return SegmentOutput{}, invalidf("give either customers or transactions, not both")
	case len(in.Customers) > 0:
		cs, err = customersFromRecords(in.Customers)
	case len(in.Transactions) > 0:
		cs, err = customersFromTransactions(in.Transactions)
	default:
		return SegmentOutput{}, invalidf("customers or transactions is required and must not be empty")
	}
	if err != nil {
		return SegmentOutput{}, err
	}

	latest := cs[0].day
	for _, c := range cs[1:] {
		latest = max(latest, c.day)
	}
	ref := latest + 1
	if strings.TrimSpace(in.ReferenceDate) != "" {
		ref, err = parseDay(named("reference_date"), in.ReferenceDate)
		if err != nil {
			return SegmentOutput{}, err
		}
		if ref < latest {
			return SegmentOutput{}, invalidf("reference_date %s is before the latest purchase (%s); recency cannot be negative", formatDay(ref), formatDay(latest))
		}
	}

	n := len(cs)
	recency := make([]float64, n)
	frequency := make([]float64, n)
	monetary := make([]float64, n)
	for i, c := range cs {
		// Negated so that "higher is better" holds for all three scores.
		recency[i] = -float64(ref - c.day)
		frequency[i] = float64(c.frequency)
		monetary[i] = c.monetary
	}
	rs, fs, ms := quintileScores(recency), quintileScores(frequency), quintileScores(monetary)

	out := SegmentOutput{
		ReferenceDate: formatDay(ref),
		CustomerCount: n,
		Customers:     make([]CustomerScore, n),
		Notes:         []string{},
	}
	type acc struct {
		count                 int
		monetary, freq, recen float64
	}
	accs := make(map[string]*acc, len(Segments()))
	var totalMonetary float64
	for i, c := range cs {
		seg := segmentFor(rs[i], (fs[i]+ms[i]+1)/2)
		out.Customers[i] = CustomerScore{
			CustomerID:       c.id,
			LastPurchaseDate: formatDay(c.day),
			RecencyDays:      int(ref - c.day),
			Frequency:        c.frequency,
			Monetary:         c.monetary,
			RScore:           rs[i],
			FScore:           fs[i],
			MScore:           ms[i],
			RFMScore:         strconv.Itoa(rs[i]*100 + fs[i]*10 + ms[i]),
			Segment:          seg,
		}
		a := accs[seg]
		if a == nil {
			a = &acc{}
			accs[seg] = a
		}
		a.count++
		a.monetary += c.monetary
		a.freq += float64(c.frequency)
		a.recen += float64(ref - c.day)
		totalMonetary += c.monetary
	}
	out.Segments = []SegmentSummary{}
	for _, seg := range Segments() {
		a := accs[seg]
		if a == nil {
			continue
		}
		cnt := float64(a.count)
		share := 0.0
		if p := percent(a.monetary, totalMonetary); p != nil {
			share = round2(*p)
		}
		out.Segments = append(out.Segments, SegmentSummary{
			Segment:            seg,
			Count:              a.count,
			SharePct:           round2(cnt / float64(n) * 100),
			TotalMonetary:      round2(a.monetary),
			MonetarySharePct:   share,
			AverageMonetary:    round2(a.monetary / cnt),
			AverageFrequency:   round2(a.freq / cnt),
			AverageRecencyDays: round2(a.recen / cnt),
		})
	}
	if n < 5 {
		out.Notes = append(out.Notes, "Fewer than 5 customers: quintile scores cannot spread over 1-5, so segments are only indicative.")
	}
	return out, nil
}

func customersFromRecords(records []CustomerRecord) ([]rfmCustomer, error) {
	cs := make([]rfmCustomer, len(records))
	seen := make(map[string]int, len(records))
	for i, r := range records {
		path := func(field string) ref { return ref{"customers", i, field} }
		id, err := checkLabel(path("customer_id"), r.CustomerID)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[id]; dup {
			return nil, invalidf("customers[%d].customer_id %q repeats customers[%d]; give one record per customer (or send transactions instead)", i, id, j)
		}
		seen[id] = i
		day, err := parseDay(path("last_purchase_date"), r.LastPurchaseDate)
		if err != nil {
			return nil, err
		}
		if r.Frequency < 0 {
			return nil, invalidf("%s must not be negative; got %d", path("frequency"), r.Frequency)
		}
		if err := checkNonNegative(path("monetary"), r.Monetary); err != nil {
			return nil, err
		}
		cs[i] = rfmCustomer{id: id, day: day, frequency: r.Frequency, monetary: round2(r.Monetary)}
	}
	return cs, nil
}

func customersFromTransactions(txs []Transaction) ([]rfmCustomer, error) {
	var cs []rfmCustomer
	index := make(map[string]int)
	sums := []float64{}
	for i, tx := range txs {
		path := func(field string) ref { return ref{"transactions", i, field} }
		id, err := checkLabel(path("customer_id"), tx.CustomerID)
		if err != nil {
			return nil, err
		}
		day, err := parseDay(path("date"), tx.Date)
		if err != nil {
			return nil, err
		}
		if err := checkNonNegative(path("amount"), tx.Amount); err != nil {
			return nil, err
		}
		k, ok := index[id]
		if !ok {
			if len(cs) == MaxCustomers {
				return nil, tooLargef("transactions name more than %d distinct customers", MaxCustomers)
			}
			k = len(cs)
			index[id] = k
			cs = append(cs, rfmCustomer{id: id, day: day})
			sums = append(sums, 0)
		}
		c := &cs[k]
		c.day = max(c.day, day)
		c.frequency++
		sums[k] += tx.Amount
	}
	for k := range cs {
		// Rounded once, after summing, so cents do not drift per transaction.
		cs[k].monetary = round2(sums[k])
	}
	return cs, nil
}

// parseDay parses YYYY-MM-DD or RFC 3339 and returns its UTC calendar day as
// days since 1970-01-01. Unix seconds rather than time.Duration keep this
// exact for any year (a Duration overflows after 292 years).
func parseDay(path ref, s string) (int64, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return 0, invalidf("%s %q is not a date: use YYYY-MM-DD or RFC 3339 (2024-03-31T15:04:05Z)", path, s)
	}
	secs := t.UTC().Unix()
	day := secs / 86400
	if secs%86400 < 0 {
		day-- // floor for days before 1970
	}
	return day, nil
}

func formatDay(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
}

// quintileScores scores each value 1..5 as 1 + ⌊5·w/n⌋, w = the number of
// values strictly lower (higher values are better).
func quintileScores(vals []float64) []int {
	n := len(vals)
	// Sorting (value, index) pairs rather than indexes keeps each
	// comparison in the slice being sorted instead of a lookup into vals.
	type entry struct {
		v float64
		i int
	}
	order := make([]entry, n)
	for i, v := range vals {
		order[i] = entry{v, i}
	}
	slices.SortFunc(order, func(a, b entry) int { return cmp.Compare(a.v, b.v) })
	scores := make([]int, n)
	lower := 0 // rank of the first value of the current run of ties
	for k, e := range order {
		if k > 0 && e.v != order[k-1].v {
			lower = k
		}
		scores[e.i] = 1 + 5*lower/n
	}
	return scores
}

// segmentFor maps an R score and an FM score (both 1..5) to a segment; see
// SegmentCustomers for the grid.
func segmentFor(r, fm int) string {
	switch {
	case r == 5 && fm == 1:
		return SegmentNewCustomers
	case r >= 4 && fm <= 3 && fm >= 2:
		return SegmentPotentialLoyalists
	case r == 5:
		return SegmentChampions
	case r == 4 && fm == 1:
		return SegmentPromising
	case r >= 3 && fm >= 4:
		return SegmentLoyalCustomers
	case r == 3 && fm == 3:
		return SegmentNeedAttention
	case r == 3:
		return SegmentAboutToSleep
	case r == 1 && fm == 1:
		return SegmentLost
	case fm <= 2:
		return SegmentHibernating
	case fm == 5:
		return SegmentCantLoseThem
	default:
		return SegmentAtRisk
	}
}
