DROP INDEX organizations_kind;
DROP TABLE group_members;
DROP TABLE groups;
