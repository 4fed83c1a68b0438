package command

// registerStrings registers the family's commands. Placeholder until the family lands.
func registerStrings(t *Table) {}
