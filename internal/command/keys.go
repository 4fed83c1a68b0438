package command

// registerKeys registers the family's commands. Placeholder until the family lands.
func registerKeys(t *Table) {}
