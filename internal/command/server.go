package command

// registerServer registers the family's commands. Placeholder until the family lands.
func registerServer(t *Table) {}
