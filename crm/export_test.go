package crm

// ChangedPointsSQL is the change feed's query of customers (Store.ScanChanges).
const ChangedPointsSQL = changedPointsSQL
