package analytics

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// fiveCustomers is the worked example of TestSegmentCustomers, scored from
// reference date 2024-07-01.
func fiveCustomers() []CustomerRecord {
	return []CustomerRecord{
		{CustomerID: "c1", LastPurchaseDate: "2024-06-30", Frequency: 10, Monetary: 1000},
		{CustomerID: "c2", LastPurchaseDate: "2024-06-21", Frequency: 1, Monetary: 50},
		{CustomerID: "c3", LastPurchaseDate: "2024-05-02", Frequency: 8, Monetary: 800},
		{CustomerID: "c4", LastPurchaseDate: "2024-01-03", Frequency: 5, Monetary: 500},
		{CustomerID: "c5", LastPurchaseDate: "2023-07-02", Frequency: 2, Monetary: 100},
	}
}

// TestSegmentCustomers works five customers by hand. Recency from
// 2024-07-01: c1 1 day; c2 10; c3 60 (30 days of June + 30 from May 2);
// c4 180 (Jan 3 -> Jul 1 in a leap year: 31+29+31+30+31+28); c5 365
// (2023-07-02 -> 2024-07-02 is 366 days with Feb 29, minus one).
// Scores: 1 + floor(5·w/5) = 1 + w, w = customers strictly worse:
//
//	     R (w)  F (w)   M (w)   FM = (F+M+1)/2  grid cell         segment
//	c1   5 (4)  5 (4)   5 (4)   5               R5 FM5            Champions
//	c2   4 (3)  1 (0)   1 (0)   1               R4 FM1            Promising
//	c3   3 (2)  4 (3)   4 (3)   4               R3 FM4            Loyal Customers
//	c4   2 (1)  3 (2)   3 (2)   3               R2 FM3            At Risk
//	c5   1 (0)  2 (1)   2 (1)   2               R1 FM2            Hibernating
//
// Total monetary 2450: Champions hold 1000/2450 = 40.82%, Promising
// 50/2450 = 2.04%, Loyal 800/2450 = 32.65%, At Risk 500/2450 = 20.41%,
// Hibernating 100/2450 = 4.08%. Each segment is 1/5 = 20% of customers.
func TestSegmentCustomers(t *testing.T) {
	t.Parallel()
	out, err := SegmentCustomers(SegmentInput{Customers: fiveCustomers(), ReferenceDate: "2024-07-01"})
	require.NoError(t, err)
	require.Equal(t, "2024-07-01", out.ReferenceDate)
	require.Equal(t, 5, out.CustomerCount)
	require.Equal(t, []CustomerScore{
		{CustomerID: "c1", LastPurchaseDate: "2024-06-30", RecencyDays: 1, Frequency: 10, Monetary: 1000, RScore: 5, FScore: 5, MScore: 5, RFMScore: "555", Segment: SegmentChampions},
		{CustomerID: "c2", LastPurchaseDate: "2024-06-21", RecencyDays: 10, Frequency: 1, Monetary: 50, RScore: 4, FScore: 1, MScore: 1, RFMScore: "411", Segment: SegmentPromising},
		{CustomerID: "c3", LastPurchaseDate: "2024-05-02", RecencyDays: 60, Frequency: 8, Monetary: 800, RScore: 3, FScore: 4, MScore: 4, RFMScore: "344", Segment: SegmentLoyalCustomers},
		{CustomerID: "c4", LastPurchaseDate: "2024-01-03", RecencyDays: 180, Frequency: 5, Monetary: 500, RScore: 2, FScore: 3, MScore: 3, RFMScore: "233", Segment: SegmentAtRisk},
		{CustomerID: "c5", LastPurchaseDate: "2023-07-02", RecencyDays: 365, Frequency: 2, Monetary: 100, RScore: 1, FScore: 2, MScore: 2, RFMScore: "122", Segment: SegmentHibernating},
	}, out.Customers)
	require.Equal(t, []SegmentSummary{
		{Segment: SegmentChampions, Count: 1, SharePct: 20, TotalMonetary: 1000, MonetarySharePct: 40.82, AverageMonetary: 1000, AverageFrequency: 10, AverageRecencyDays: 1},
		{Segment: SegmentLoyalCustomers, Count: 1, SharePct: 20, TotalMonetary: 800, MonetarySharePct: 32.65, AverageMonetary: 800, AverageFrequency: 8, AverageRecencyDays: 60},
		{Segment: SegmentPromising, Count: 1, SharePct: 20, TotalMonetary: 50, MonetarySharePct: 2.04, AverageMonetary: 50, AverageFrequency: 1, AverageRecencyDays: 10},
		{Segment: SegmentAtRisk, Count: 1, SharePct: 20, TotalMonetary: 500, MonetarySharePct: 20.41, AverageMonetary: 500, AverageFrequency: 5, AverageRecencyDays: 180},
		{Segment: SegmentHibernating, Count: 1, SharePct: 20, TotalMonetary: 100, MonetarySharePct: 4.08, AverageMonetary: 100, AverageFrequency: 2, AverageRecencyDays: 365},
	}, out.Segments)
	require.Empty(t, out.Notes)

	// Without a reference date it is the day after the latest purchase,
	// 2024-07-01 again: the same result, whatever day the test runs.
	again, err := SegmentCustomers(SegmentInput{Customers: fiveCustomers()})
	require.NoError(t, err)
	require.Equal(t, out, again)
}

// TestQuintileScores checks the tie rule: tied values share the score of
// their lowest rank, 1 + floor(5·w/n).
func TestQuintileScores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vals []float64
		want []int
	}{
		// n = 10, distinct: w = 0..9 -> 1 + floor(w/2) = 1,1,2,2,3,3,4,4,5,5.
		{"ten distinct, shuffled", []float64{9, 0, 8, 1, 7, 2, 6, 3, 5, 4}, []int{5, 1, 5, 1, 4, 2, 4, 2, 3, 3}},
		// six 1s (w = 0 -> 1), two 2s (w = 6 -> 1 + 3 = 4), 3 (w = 8 -> 5), 4 (w = 9 -> 1 + 4 = 5).
		{"ties share the lowest rank", []float64{1, 1, 1, 1, 1, 1, 2, 2, 3, 4}, []int{1, 1, 1, 1, 1, 1, 4, 4, 5, 5}},
		{"all equal", []float64{3, 3, 3, 3, 3, 3}, []int{1, 1, 1, 1, 1, 1}},
		// n = 3: w = 0, 1, 2 -> 1, 1 + floor(5/3) = 2, 1 + floor(10/3) = 4.
		{"three", []float64{30, 10, 20}, []int{4, 1, 2}},
		{"one", []float64{5}, []int{1}},
		// n = 7: 1 + floor(5w/7) = 1,1,2,3,3,4,5.
		{"seven", []float64{1, 2, 3, 4, 5, 6, 7}, []int{1, 1, 2, 3, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, quintileScores(tt.vals))
		})
	}
}

// TestSegmentFor checks all 25 cells of the grid documented on
// SegmentCustomers.
func TestSegmentFor(t *testing.T) {
	t.Parallel()
	const (
		ch, lo, pl, nc = SegmentChampions, SegmentLoyalCustomers, SegmentPotentialLoyalists, SegmentNewCustomers
		pr, na, as, ar = SegmentPromising, SegmentNeedAttention, SegmentAboutToSleep, SegmentAtRisk
		cl, hi, ls     = SegmentCantLoseThem, SegmentHibernating, SegmentLost
	)
	grid := [5][5]string{ // [R-1][FM-1]
		{ls, hi, ar, ar, cl},
		{hi, hi, ar, ar, cl},
		{as, as, na, lo, lo},
		{pr, pl, pl, lo, lo},
		{nc, pl, pl, ch, ch},
	}
	seen := map[string]bool{}
	for r := 1; r <= 5; r++ {
		for fm := 1; fm <= 5; fm++ {
			got := segmentFor(r, fm)
			require.Equal(t, grid[r-1][fm-1], got, "R%d FM%d", r, fm)
			seen[got] = true
		}
	}
	require.Len(t, seen, len(Segments()), "every segment is reachable")
}

func TestSegmentCustomersTransactions(t *testing.T) {
	t.Parallel()
	// a: 2 purchases, 10 + 5.10 = 15.10, last on 2024-03-01T23:30-05:00 =
	//    2024-03-02T04:30Z -> UTC day 2024-03-02;
	// b: 1 purchase of 20 on 2024-02-01; c: 1 of 100 on 2023-12-01.
	// Default reference: 2024-03-02 + 1 = 2024-03-03.
	// Recency: a 1; b 31 (Feb 2024 has 29 days: 29 + 2); c 93 (31 Dec + 31 Jan + 29 Feb + 2).
	// n = 3, scores 1 + floor(5w/3): w = 0 -> 1, 1 -> 2, 2 -> 4.
	// R: a w=2 -> 4, b w=1 -> 2, c w=0 -> 1.
	// F: a (2) w=2 -> 4; b, c (1) tie w=0 -> 1.
	// M: c (100) w=2 -> 4, b (20) w=1 -> 2, a (15.10) w=0 -> 1.
	// a: R4, FM=(4+1+1)/2=3 -> Potential Loyalists; b: R2, FM=(1+2+1)/2=2 ->
	// Hibernating; c: R1, FM=(1+4+1)/2=3 -> At Risk.
	out, err := SegmentCustomers(SegmentInput{Transactions: []Transaction{
		{CustomerID: "a", Date: "2024-01-01", Amount: 10},
		{CustomerID: "b", Date: "2024-02-01", Amount: 20},
		{CustomerID: "a", Date: "2024-03-01T23:30:00-05:00", Amount: 5.1},
		{CustomerID: "c", Date: "2023-12-01", Amount: 100},
	}})
	require.NoError(t, err)
	require.Equal(t, "2024-03-03", out.ReferenceDate)
	require.Equal(t, []CustomerScore{
		{CustomerID: "a", LastPurchaseDate: "2024-03-02", RecencyDays: 1, Frequency: 2, Monetary: 15.1, RScore: 4, FScore: 4, MScore: 1, RFMScore: "441", Segment: SegmentPotentialLoyalists},
		{CustomerID: "b", LastPurchaseDate: "2024-02-01", RecencyDays: 31, Frequency: 1, Monetary: 20, RScore: 2, FScore: 1, MScore: 2, RFMScore: "212", Segment: SegmentHibernating},
		{CustomerID: "c", LastPurchaseDate: "2023-12-01", RecencyDays: 93, Frequency: 1, Monetary: 100, RScore: 1, FScore: 1, MScore: 4, RFMScore: "114", Segment: SegmentAtRisk},
	}, out.Customers)
	require.Equal(t, []string{"Fewer than 5 customers: quintile scores cannot spread over 1-5, so segments are only indicative."}, out.Notes)
}

func TestSegmentCustomersEdgeCases(t *testing.T) {
	t.Parallel()

	t.Run("reference date on the latest purchase gives recency 0", func(t *testing.T) {
		t.Parallel()
		out, err := SegmentCustomers(SegmentInput{Customers: fiveCustomers(), ReferenceDate: "2024-06-30T18:00:00Z"})
		require.NoError(t, err)
		require.Equal(t, 0, out.Customers[0].RecencyDays)
	})

	t.Run("dates centuries apart", func(t *testing.T) {
		t.Parallel()
		// 0001-01-01 to 9999-12-31 is 3652058 days; a time.Duration could
		// not hold it.
		out, err := SegmentCustomers(SegmentInput{
			Customers:     []CustomerRecord{{CustomerID: "old", LastPurchaseDate: "0001-01-01", Frequency: 1, Monetary: 1}},
			ReferenceDate: "9999-12-31",
		})
		require.NoError(t, err)
		require.Equal(t, 3652058, out.Customers[0].RecencyDays)
	})

	t.Run("everyone the same: all scores 1, one segment", func(t *testing.T) {
		t.Parallel()
		cs := make([]CustomerRecord, 6)
		for i := range cs {
			cs[i] = CustomerRecord{CustomerID: strconv.Itoa(i), LastPurchaseDate: "2024-01-01", Frequency: 1, Monetary: 10}
		}
		out, err := SegmentCustomers(SegmentInput{Customers: cs})
		require.NoError(t, err)
		require.Equal(t, []SegmentSummary{{Segment: SegmentLost, Count: 6, SharePct: 100, TotalMonetary: 60, MonetarySharePct: 100, AverageMonetary: 10, AverageFrequency: 1, AverageRecencyDays: 1}}, out.Segments)
	})

	t.Run("zero monetary everywhere: monetary share 0, not NaN", func(t *testing.T) {
		t.Parallel()
		out, err := SegmentCustomers(SegmentInput{Customers: []CustomerRecord{{CustomerID: "a", LastPurchaseDate: "2024-01-01"}}})
		require.NoError(t, err)
		require.Equal(t, 0.0, out.Segments[0].MonetarySharePct)
		requireMarshals(t, out)
	})

	t.Run("max distinct customers", func(t *testing.T) {
		t.Parallel()
		txs := make([]Transaction, MaxCustomers+1)
		for i := range txs {
			txs[i] = Transaction{CustomerID: strconv.Itoa(i), Date: "2024-01-01", Amount: 1}
		}
		_, err := SegmentCustomers(SegmentInput{Transactions: txs})
		requireCode(t, err, apperr.TooLarge, "more than 100000 distinct customers")
	})
}

func TestSegmentCustomersInvalid(t *testing.T) {
	t.Parallel()
	rec := func(id, date string, freq int, m float64) CustomerRecord {
		return CustomerRecord{CustomerID: id, LastPurchaseDate: date, Frequency: freq, Monetary: m}
	}
	tests := []struct {
		name  string
		in    SegmentInput
		code  apperr.Code
		parts []string
	}{
		{"nothing", SegmentInput{}, apperr.Invalid, []string{"customers or transactions is required"}},
		{"both", SegmentInput{Customers: fiveCustomers(), Transactions: []Transaction{{CustomerID: "a", Date: "2024-01-01"}}}, apperr.Invalid, []string{"either customers or transactions, not both"}},
		{"duplicate id", SegmentInput{Customers: []CustomerRecord{rec("a", "2024-01-01", 1, 1), rec("b", "2024-01-01", 1, 1), rec("a", "2024-01-02", 1, 1)}}, apperr.Invalid,
			[]string{`customers[2].customer_id "a" repeats customers[0]`}},
		{"blank id", SegmentInput{Customers: []CustomerRecord{rec("", "2024-01-01", 1, 1)}}, apperr.Invalid, []string{"customers[0].customer_id is required"}},
		{"bad date", SegmentInput{Customers: []CustomerRecord{rec("a", "01/02/2024", 1, 1)}}, apperr.Invalid, []string{`customers[0].last_purchase_date "01/02/2024" is not a date`}},
		{"impossible date", SegmentInput{Customers: []CustomerRecord{rec("a", "2023-02-29", 1, 1)}}, apperr.Invalid, []string{"is not a date"}},
		{"negative frequency", SegmentInput{Customers: []CustomerRecord{rec("a", "2024-01-01", -1, 1)}}, apperr.Invalid, []string{"customers[0].frequency must not be negative"}},
		{"negative monetary", SegmentInput{Customers: []CustomerRecord{rec("a", "2024-01-01", 1, -1)}}, apperr.Invalid, []string{"customers[0].monetary must not be negative"}},
		{"NaN monetary", SegmentInput{Customers: []CustomerRecord{rec("a", "2024-01-01", 1, math.NaN())}}, apperr.Invalid, []string{"customers[0].monetary must be a finite number"}},
		{"Inf amount", SegmentInput{Transactions: []Transaction{{CustomerID: "a", Date: "2024-01-01", Amount: math.Inf(1)}}}, apperr.Invalid, []string{"transactions[0].amount must be a finite number"}},
		{"bad transaction date", SegmentInput{Transactions: []Transaction{{CustomerID: "a", Date: "yesterday"}}}, apperr.Invalid, []string{`transactions[0].date "yesterday" is not a date`}},
		{"bad reference date", SegmentInput{Customers: fiveCustomers(), ReferenceDate: "soon"}, apperr.Invalid, []string{`reference_date "soon" is not a date`}},
		{"reference before a purchase", SegmentInput{Customers: fiveCustomers(), ReferenceDate: "2024-06-01"}, apperr.Invalid,
			[]string{"reference_date 2024-06-01 is before the latest purchase (2024-06-30)"}},
		{"too many customers", SegmentInput{Customers: make([]CustomerRecord, MaxCustomers+1)}, apperr.TooLarge, []string{"the limit is 100000"}},
		{"too many transactions", SegmentInput{Transactions: make([]Transaction, MaxTransactions+1)}, apperr.TooLarge, []string{"the limit is 1000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := SegmentCustomers(tt.in)
			requireCode(t, err, tt.code, tt.parts...)
		})
	}
}
