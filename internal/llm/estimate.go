package llm

// Quote says which provider and model a request naming provider and model
// (either may be empty, for the defaults) would be sent to, and that model's
// price when one is configured (ok false otherwise), so a caller can state
// the cost of a call before making it. The errors are Complete's for the
// same names.
func (r *Router) Quote(providerName, model string) (provider, resolvedModel string, price Price, ok bool, err error) {
	p, err := r.resolve(providerName)
	if err != nil {
		return "", "", Price{}, false, err
	}
	if model == "" {
		model = p.info.DefaultModel
	}
	price, ok = lookupPrice(r.prices, model, "")
	return p.info.Name, model, price, ok, nil
}
