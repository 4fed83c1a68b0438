package command

// registerConnection registers the family's commands. Placeholder until the family lands.
func registerConnection(t *Table) {}
